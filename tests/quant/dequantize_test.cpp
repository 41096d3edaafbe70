// Dequantization against hand-built blocks. Every expected value is worked out by hand from the
// ggml block definitions (ggml-common.h, ggml-quants.c dequantize_row_*), written in comments.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"

namespace llm {
namespace {

void put_u16(std::vector<uint8_t>& block, size_t offset, uint16_t value) {
  block[offset] = static_cast<uint8_t>(value & 0xFF);
  block[offset + 1] = static_cast<uint8_t>(value >> 8);
}

std::vector<float> dequantize(DType dtype, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n), -12345.0f);
  dequantize_row(dtype, bytes.data(), out.data(), n);
  return out;
}

TEST(Dequantize, BlockConstantsMatchDTypeInfo) {
  EXPECT_EQ(dtype_info(DType::kQ8_0).block_size, quant::kQ8_0BlockSize);
  EXPECT_EQ(dtype_info(DType::kQ8_0).block_bytes, quant::kQ8_0BlockBytes);
  EXPECT_EQ(dtype_info(DType::kQ4_0).block_size, quant::kQ4_0BlockSize);
  EXPECT_EQ(dtype_info(DType::kQ4_0).block_bytes, quant::kQ4_0BlockBytes);
  EXPECT_EQ(dtype_info(DType::kQ4_K).block_size, quant::kQ4_KBlockSize);
  EXPECT_EQ(dtype_info(DType::kQ4_K).block_bytes, quant::kQ4_KBlockBytes);
  EXPECT_EQ(dtype_info(DType::kQ6_K).block_size, quant::kQ6_KBlockSize);
  EXPECT_EQ(dtype_info(DType::kQ6_K).block_bytes, quant::kQ6_KBlockBytes);
}

TEST(Dequantize, F16KnownValues) {
  // IEEE binary16: 0x3C00 = 1, 0xC000 = -2, 0x7BFF = 65504 (max), 0x0001 = 2^-24 (min subnormal),
  // 0x3555 = 0x155/1024 * 2^-1 + 2^-2 = 0.333251953125, 0x8000 = -0.
  std::vector<uint8_t> bytes = {0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x01, 0x00, 0x55, 0x35, 0x00, 0x80};
  std::vector<float> out = dequantize(DType::kF16, bytes, 6);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 65504.0f);
  EXPECT_EQ(out[3], 5.9604644775390625e-08f);
  EXPECT_EQ(out[4], 0.333251953125f);
  EXPECT_EQ(out[5], 0.0f);
  EXPECT_TRUE(std::signbit(out[5]));
}

TEST(Dequantize, BF16KnownValues) {
  // bfloat16 = top half of f32: 0x3F80 = 1, 0xC0A0 = -5, 0x4049 = 3.140625.
  std::vector<uint8_t> bytes = {0x80, 0x3F, 0xA0, 0xC0, 0x49, 0x40};
  std::vector<float> out = dequantize(DType::kBF16, bytes, 3);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -5.0f);
  EXPECT_EQ(out[2], 3.140625f);
}

TEST(Dequantize, Q8_0) {
  // d = f16 0x3800 = 0.5; qs[j] = j - 16, except qs[0] = 127 and qs[1] = -128. x = d * q.
  std::vector<uint8_t> block(34);
  put_u16(block, 0, 0x3800);
  for (int j = 0; j < 32; ++j) block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  block[2] = 127;
  block[3] = 0x80;
  std::vector<float> out = dequantize(DType::kQ8_0, block, 32);
  EXPECT_EQ(out[0], 63.5f);
  EXPECT_EQ(out[1], -64.0f);
  EXPECT_EQ(out[2], -7.0f);   // q = -14
  EXPECT_EQ(out[16], 0.0f);   // q = 0
  EXPECT_EQ(out[31], 7.5f);   // q = 15
}

TEST(Dequantize, Q4_0NibbleOrder) {
  // d = f16 0x4000 = 2; byte j = (15 - j) << 4 | j: element j = low nibble = j, element j + 16 =
  // high nibble = 15 - j. x = d * (q - 8).
  std::vector<uint8_t> block(18);
  put_u16(block, 0, 0x4000);
  for (int j = 0; j < 16; ++j) block[2 + j] = static_cast<uint8_t>(((15 - j) << 4) | j);
  std::vector<float> out = dequantize(DType::kQ4_0, block, 32);
  EXPECT_EQ(out[0], -16.0f);   // 2 * (0 - 8)
  EXPECT_EQ(out[8], 0.0f);     // 2 * (8 - 8)
  EXPECT_EQ(out[15], 14.0f);   // 2 * (15 - 8)
  EXPECT_EQ(out[16], 14.0f);   // high nibble of byte 0 = 15
  EXPECT_EQ(out[31], -16.0f);  // high nibble of byte 15 = 0
}

// Q4_K hand-built block: d = 1 (0x3C00), dmin = 0.5 (0x3800).
// Chosen sub-block scales s = {1, 2, 3, 63, 17, 34, 5, 48} and mins m = {0, 1, 2, 3, 4, 31, 32, 63}.
// Packing (get_scale_min_k4): for j < 4, scales[j] low 6 bits = s_j, scales[j+4] low 6 bits = m_j;
// for j >= 4, scales[j+4] = m_j low nibble << 4 | s_j low nibble, and the top 2 bits of s_j / m_j go
// into bits 6..7 of scales[j-4] / scales[j]:
//   scales[0] = 01<<6 | 1  = 0x41 (s4 = 0x11: top 01)     scales[4] = 00<<6 | 0 = 0x00 (m4 = 4: top 00)
//   scales[1] = 10<<6 | 2  = 0x82 (s5 = 0x22: top 10)     scales[5] = 01<<6 | 1 = 0x41 (m5 = 0x1F: top 01)
//   scales[2] = 00<<6 | 3  = 0x03 (s6 = 5: top 00)        scales[6] = 10<<6 | 2 = 0x82 (m6 = 0x20: top 10)
//   scales[3] = 11<<6 | 63 = 0xFF (s7 = 0x30: top 11)     scales[7] = 11<<6 | 3 = 0xC3 (m7 = 0x3F: top 11)
//   scales[8] = 4<<4 | 1 = 0x41, scales[9] = 0xF<<4 | 2 = 0xF2, scales[10] = 0<<4 | 5 = 0x05,
//   scales[11] = 0xF<<4 | 0 = 0xF0.
// qs[i] = i. Element 64c + l = d*s_{2c}*(qs[32c+l] & 15) - dmin*m_{2c};
// element 64c + 32 + l = d*s_{2c+1}*(qs[32c+l] >> 4) - dmin*m_{2c+1}.
TEST(Dequantize, Q4_KHandBuiltBlock) {
  std::vector<uint8_t> block(144);
  put_u16(block, 0, 0x3C00);
  put_u16(block, 2, 0x3800);
  const std::array<uint8_t, 12> scales = {0x41, 0x82, 0x03, 0xFF, 0x00, 0x41, 0x82, 0xC3, 0x41, 0xF2, 0x05, 0xF0};
  std::memcpy(block.data() + 4, scales.data(), 12);
  for (int i = 0; i < 128; ++i) block[16 + i] = static_cast<uint8_t>(i);
  std::vector<float> out = dequantize(DType::kQ4_K, block, 256);
  EXPECT_EQ(out[0], 0.0f);      // s0=1, q = 0, m0 = 0
  EXPECT_EQ(out[5], 5.0f);      // 1*5 - 0
  EXPECT_EQ(out[31], 15.0f);    // qs[31] = 0x1F: low 15
  EXPECT_EQ(out[32], -0.5f);    // s1=2, qs[0] >> 4 = 0, 0.5*m1 = 0.5
  EXPECT_EQ(out[63], 1.5f);     // qs[31] >> 4 = 1: 2*1 - 0.5
  EXPECT_EQ(out[64], -1.0f);    // s2=3, qs[32] = 0x20 low 0, 0.5*m2 = 1
  EXPECT_EQ(out[71], 20.0f);    // qs[39] = 0x27 low 7: 21 - 1
  EXPECT_EQ(out[96], 124.5f);   // s3=63, qs[32] >> 4 = 2: 126 - 1.5
  EXPECT_EQ(out[128], -2.0f);   // s4=17, qs[64] = 0x40 low 0, 0.5*m4 = 2
  EXPECT_EQ(out[143], 253.0f);  // qs[79] = 0x4F low 15: 255 - 2
  EXPECT_EQ(out[160], 120.5f);  // s5=34, qs[64] >> 4 = 4: 136 - 15.5
  EXPECT_EQ(out[192], -16.0f);  // s6=5, qs[96] = 0x60 low 0, 0.5*m6 = 16
  EXPECT_EQ(out[201], 29.0f);   // qs[105] = 0x69 low 9: 45 - 16
  EXPECT_EQ(out[224], 256.5f);  // s7=48, qs[96] >> 4 = 6: 288 - 31.5
  EXPECT_EQ(out[255], 304.5f);  // qs[127] >> 4 = 7: 336 - 31.5
}

// Q6_K hand-built block: d = 0.25 (f16 0x3400) at byte 208; scales (int8, byte 192) =
// {1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8}. ql and qh are zero (q = 0 - 32 = -32)
// except ql[0] = 0x5A, ql[32] = 0xF3, qh[0] = 0xE4 (bit pairs 3,2,1,0 from high to low),
// ql[81] = 0x21, qh[49] = 0x1B (bit pairs 0,1,2,3 from high to low).
// In half h, element 128h + 32k + l: low 4 bits = nibble (low for k<2, high for k>=2) of
// ql[64h + l + 32(k%2)], top 2 bits = bits 2k..2k+1 of qh[32h + l], scale sc[8h + l/16 + 2k],
// value = d * scale * (q - 32).
TEST(Dequantize, Q6_KHandBuiltBlock) {
  std::vector<uint8_t> block(210, 0);
  for (int i = 0; i < 8; ++i) block[192 + i] = static_cast<uint8_t>(i + 1);
  for (int i = 0; i < 8; ++i) block[200 + i] = static_cast<uint8_t>(static_cast<int8_t>(-(i + 1)));
  put_u16(block, 208, 0x3400);
  block[0] = 0x5A;
  block[32] = 0xF3;
  block[128 + 0] = 0xE4;
  block[81] = 0x21;
  block[128 + 49] = 0x1B;
  std::vector<float> out = dequantize(DType::kQ6_K, block, 256);
  EXPECT_EQ(out[0], -5.5f);     // q = 0xA | 0<<4 = 10 -> -22; 0.25 * 1 * -22
  EXPECT_EQ(out[1], -8.0f);     // q = -32, sc[0] = 1
  EXPECT_EQ(out[16], -16.0f);   // sc[1] = 2
  EXPECT_EQ(out[32], -9.75f);   // low nibble of ql[32] = 3, qh bits 2..3 = 1: 19 - 32 = -13; sc[2] = 3
  EXPECT_EQ(out[48], -32.0f);   // sc[3] = 4, q = -32
  EXPECT_EQ(out[64], 6.25f);    // high nibble of ql[0] = 5, qh bits 4..5 = 2: 37 - 32 = 5; sc[4] = 5
  EXPECT_EQ(out[96], 54.25f);   // high nibble of ql[32] = 15, qh bits 6..7 = 3: 63 - 32 = 31; sc[6] = 7
  EXPECT_EQ(out[127], -64.0f);  // sc[7] = 8, q = -32
  EXPECT_EQ(out[128], 8.0f);    // second half, sc[8] = -1, q = -32
  EXPECT_EQ(out[145], -8.5f);   // l = 17: low nibble of ql[81] = 1, qh[49] bits 0..1 = 3: 49 - 32 = 17; sc[9] = -2
  EXPECT_EQ(out[177], 0.0f);    // k = 1: ql[113] = 0, qh bits 2..3 = 2: 32 - 32 = 0
  EXPECT_EQ(out[209], 21.0f);   // k = 2: high nibble of ql[81] = 2, qh bits 4..5 = 1: 18 - 32 = -14; sc[13] = -6
  EXPECT_EQ(out[241], 64.0f);   // k = 3: q = -32, sc[15] = -8
}

TEST(Dequantize, SeveralBlocksAdvance) {
  // Two Q8_0 blocks: d = 1 and d = 2, all q = 1: the second block must use its own scale.
  std::vector<uint8_t> bytes(68, 1);
  put_u16(bytes, 0, 0x3C00);
  put_u16(bytes, 34, 0x4000);
  std::vector<float> out = dequantize(DType::kQ8_0, bytes, 64);
  EXPECT_EQ(out[31], 1.0f);
  EXPECT_EQ(out[32], 2.0f);
  EXPECT_EQ(out[63], 2.0f);
}

TEST(Dequantize, UnalignedSource) {
  // Blocks at an odd address (a GGUF with alignment 1 allows that): must decode the same.
  std::vector<uint8_t> bytes(1 + 18, 0);
  put_u16(bytes, 1, 0x3C00);
  for (int j = 0; j < 16; ++j) bytes[1 + 2 + j] = 0x9A;  // low 10, high 9
  std::vector<float> out(32);
  dequantize_row(DType::kQ4_0, bytes.data() + 1, out.data(), 32);
  EXPECT_EQ(out[0], 2.0f);
  EXPECT_EQ(out[16], 1.0f);
}

}  // namespace
}  // namespace llm
