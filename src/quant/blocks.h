// Byte layouts of ggml's quantized blocks (ggml-common.h). Blocks are read byte by byte through
// these offsets, never through a struct pointer: a GGUF with alignment 1 may put a block at an
// odd address, and f16 fields must not be loaded unaligned.
#pragma once

#include <cstdint>

namespace llm::quant {

// Q8_0: 32 elements. x[j] = d * qs[j].
inline constexpr int kQ8_0BlockSize = 32;
inline constexpr int kQ8_0BlockBytes = 34;  // f16 d @0; int8 qs[32] @2

// Q4_0: 32 elements. Byte qs[j] holds element j (low nibble) and element j + 16 (high nibble);
// x = d * (q - 8).
inline constexpr int kQ4_0BlockSize = 32;
inline constexpr int kQ4_0BlockBytes = 18;  // f16 d @0; uint8 qs[16] @2

// Q4_K: 256 elements in 8 sub-blocks of 32. Each sub-block has a 6-bit scale and a 6-bit min
// packed into scales[12] (see get_scale_min_k4 in dequantize.cpp); x = d*sc*q - dmin*m.
inline constexpr int kQ4_KBlockSize = 256;
inline constexpr int kQ4_KBlockBytes = 144;  // f16 d @0; f16 dmin @2; uint8 scales[12] @4; uint8 qs[128] @16
inline constexpr int kQ4_KScalesOffset = 4;
inline constexpr int kQ4_KQsOffset = 16;

// Q6_K: 256 elements in 16 sub-blocks of 16. 4 low bits in ql, 2 high bits in qh, int8 scale
// per sub-block, one f16 d at the end; x = d * scale * (q - 32).
inline constexpr int kQ6_KBlockSize = 256;
inline constexpr int kQ6_KBlockBytes = 210;  // uint8 ql[128] @0; uint8 qh[64] @128; int8 scales[16] @192; f16 d @208
inline constexpr int kQ6_KQhOffset = 128;
inline constexpr int kQ6_KScalesOffset = 192;
inline constexpr int kQ6_KDOffset = 208;

}  // namespace llm::quant
