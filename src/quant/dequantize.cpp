#include "quant/dequantize.h"

#include <cstring>

#include "core/half.h"
#include "quant/blocks.h"
#include "util/check.h"

namespace llm {
namespace {

// Unaligned little-endian f16 load (blocks may sit at any byte address, see blocks.h).
inline float load_f16(const uint8_t* bytes) {
  uint16_t bits;
  std::memcpy(&bits, bytes, sizeof(bits));
  return f16_to_float(bits);
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += quant::kQ8_0BlockBytes, dst += quant::kQ8_0BlockSize) {
    const float d = load_f16(src);
    const auto* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < quant::kQ8_0BlockSize; ++j) dst[j] = d * static_cast<float>(qs[j]);
  }
}

void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  constexpr int kHalf = quant::kQ4_0BlockSize / 2;
  for (int64_t b = 0; b < n_blocks; ++b, src += quant::kQ4_0BlockBytes, dst += quant::kQ4_0BlockSize) {
    const float d = load_f16(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kHalf; ++j) {
      dst[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
      dst[j + kHalf] = d * static_cast<float>((qs[j] >> 4) - 8);
    }
  }
}

// ggml's get_scale_min_k4: sub-blocks 0..3 keep scale and min in the low 6 bits of bytes j and
// j + 4; sub-blocks 4..7 take their low 4 bits from byte j + 4 (scale: low nibble, min: high
// nibble) and their top 2 bits from the spare top bits of bytes j - 4 (scale) and j (min).
inline void scale_min_k4(int j, const uint8_t* scales, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

// Element order: for each 64-element chunk c (0..3), 32 low nibbles of qs[32c .. 32c+31]
// (sub-block 2c), then the 32 high nibbles of the same bytes (sub-block 2c+1).
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += quant::kQ4_KBlockBytes) {
    const float d = load_f16(src);
    const float dmin = load_f16(src + 2);
    const uint8_t* scales = src + quant::kQ4_KScalesOffset;
    const uint8_t* qs = src + quant::kQ4_KQsOffset;
    for (int chunk = 0; chunk < 4; ++chunk, qs += 32) {
      uint8_t scale, min;
      scale_min_k4(2 * chunk, scales, &scale, &min);
      const float d_low = d * scale, m_low = dmin * min;
      scale_min_k4(2 * chunk + 1, scales, &scale, &min);
      const float d_high = d * scale, m_high = dmin * min;
      for (int l = 0; l < 32; ++l) *dst++ = d_low * static_cast<float>(qs[l] & 0x0F) - m_low;
      for (int l = 0; l < 32; ++l) *dst++ = d_high * static_cast<float>(qs[l] >> 4) - m_high;
    }
  }
}

// Element order within each 128-element half (64 ql bytes, 32 qh bytes, 8 scales): element
// 32k + l (k = 0..3, l = 0..31) takes its low 4 bits from the low nibble (k = 0, 1) or high nibble
// (k = 2, 3) of ql[l + 32 * (k % 2)], its top 2 bits from bits 2k..2k+1 of qh[l], and scale
// l / 16 + 2k.
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += quant::kQ6_KBlockBytes) {
    const float d = load_f16(src + quant::kQ6_KDOffset);
    const uint8_t* ql = src;
    const uint8_t* qh = src + quant::kQ6_KQhOffset;
    const auto* sc = reinterpret_cast<const int8_t*>(src + quant::kQ6_KScalesOffset);
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, dst += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        dst[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        dst[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        dst[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace

void dequantize_row(DType dtype, const void* src, float* dst, int64_t n) {
  const int64_t block_size = dtype_info(dtype).block_size;
  LLM_CHECK(n >= 0 && n % block_size == 0, n, " elements of ", dtype_name(dtype), ": expected a multiple of ",
            block_size);
  const auto* bytes = static_cast<const uint8_t*>(src);
  const int64_t n_blocks = n / block_size;
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = load_f16(bytes + 2 * i);
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, bytes + 2 * i, sizeof(bits));
        dst[i] = bf16_to_float(bits);
      }
      return;
    case DType::kI32:
      for (int64_t i = 0; i < n; ++i) {
        int32_t value;
        std::memcpy(&value, bytes + 4 * i, sizeof(value));
        dst[i] = static_cast<float>(value);
      }
      return;
    case DType::kQ8_0:
      dequantize_q8_0(bytes, dst, n_blocks);
      return;
    case DType::kQ4_0:
      dequantize_q4_0(bytes, dst, n_blocks);
      return;
    case DType::kQ4_K:
      dequantize_q4_k(bytes, dst, n_blocks);
      return;
    case DType::kQ6_K:
      dequantize_q6_k(bytes, dst, n_blocks);
      return;
  }
}

}  // namespace llm
