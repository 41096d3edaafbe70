// Reference quantizers: exact bytes for blocks whose answer follows from ggml's algorithm by
// hand, and round-trip error bounds derived from the formats.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"

namespace llm {
namespace {

// Deterministic values in [-scale, scale) from a 32-bit LCG (Numerical Recipes constants).
std::vector<float> pseudo_random(size_t n, float scale, uint32_t seed) {
  std::vector<float> values(n);
  for (float& value : values) {
    seed = seed * 1664525u + 1013904223u;
    value = (static_cast<float>(seed >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
  }
  return values;
}

TEST(Quantize, Q8_0ExactBlock) {
  // x[0] = 127, x[j] = j - 16: amax = 127 so d = 1 (f16 0x3C00) and q = x exactly.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  x[0] = 127.0f;
  std::vector<uint8_t> block(34);
  quantize_row_q8_0(x.data(), block.data(), 32);
  EXPECT_EQ(block[0], 0x00);
  EXPECT_EQ(block[1], 0x3C);
  EXPECT_EQ(block[2], 127);
  EXPECT_EQ(static_cast<int8_t>(block[3]), -15);
  EXPECT_EQ(static_cast<int8_t>(block[2 + 31]), 15);
}

TEST(Quantize, Q4_0ExactBlock) {
  // x[j] = x[j + 16] = (j - 8) * 0.5: the largest magnitude is x[0] = -4 (first seen), so
  // d = -4 / -8 = 0.5 (f16 0x3800) and q = trunc(x / 0.5 + 8.5) = j: byte j = j << 4 | j.
  std::vector<float> x(32);
  for (int j = 0; j < 16; ++j) x[j] = x[j + 16] = static_cast<float>(j - 8) * 0.5f;
  std::vector<uint8_t> block(18);
  quantize_row_q4_0(x.data(), block.data(), 32);
  EXPECT_EQ(block[0], 0x00);
  EXPECT_EQ(block[1], 0x38);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(block[2 + j], (j << 4) | j) << "byte " << j;
}

TEST(Quantize, Q4_0PositiveMaxClampsTo15) {
  // max = +8 -> d = -1; x = -8 would give q = 16.5 -> clamped to 15 (ggml's MIN(15, ...)).
  std::vector<float> x(32, 0.0f);
  x[0] = 8.0f;
  x[1] = -7.9f;
  std::vector<uint8_t> block(18);
  quantize_row_q4_0(x.data(), block.data(), 32);
  EXPECT_EQ(block[1], 0xBC);  // f16 -1 = 0xBC00
  EXPECT_EQ(block[2] & 0x0F, 0);   // 8 * -1 + 8.5 = 0.5 -> 0
  EXPECT_EQ(block[3] & 0x0F, 15);  // 7.9 + 8.5 = 16.4 -> 15
  EXPECT_EQ(block[4] & 0x0F, 8);   // 0 -> 8
}

TEST(Quantize, AllZerosAndNaNDoNotCrash) {
  std::vector<float> x(32, 0.0f);
  std::vector<uint8_t> block(34);
  quantize_row_q8_0(x.data(), block.data(), 32);
  std::vector<float> back(32, 1.0f);
  dequantize_row(DType::kQ8_0, block.data(), back.data(), 32);
  for (float value : back) EXPECT_EQ(value, 0.0f);
  x[3] = std::nanf("");
  quantize_row_q8_0(x.data(), block.data(), 32);  // defined behaviour only; value unspecified
  quantize_row_q4_0(x.data(), block.data(), 32);
}

TEST(Quantize, Q8_0RoundTripBound) {
  // |x - d16*q| <= d/2 (rounding) + |d16 - d| * 127 where |d16 - d| <= d * 2^-11 (f16 rounding).
  std::vector<float> x = pseudo_random(32 * 64, 3.0f, 7);
  std::vector<uint8_t> q(34 * 64);
  quantize_row_q8_0(x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> back(x.size());
  dequantize_row(DType::kQ8_0, q.data(), back.data(), static_cast<int64_t>(x.size()));
  for (size_t b = 0; b < 64; ++b) {
    float amax = 0.0f;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const float d = amax / 127.0f;
    const float bound = d * 0.5f + d * 127.0f / 2048.0f + 1e-6f;
    for (size_t j = 0; j < 32; ++j) EXPECT_LE(std::fabs(x[b * 32 + j] - back[b * 32 + j]), bound) << b << "," << j;
  }
}

TEST(Quantize, Q4_0RoundTripBound) {
  // q in 0..15 covers [-8d, 7d] (d has the sign that maps the max to -8): rounding error <= |d|/2,
  // except values near the opposite end (up to 8|d| away) clamp to 7|d|: error <= |d|; plus f16
  // rounding of d: |d16 - d| * 8 <= |d| * 8 / 2048.
  std::vector<float> x = pseudo_random(32 * 64, 2.0f, 11);
  std::vector<uint8_t> q(18 * 64);
  quantize_row_q4_0(x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> back(x.size());
  dequantize_row(DType::kQ4_0, q.data(), back.data(), static_cast<int64_t>(x.size()));
  for (size_t b = 0; b < 64; ++b) {
    float amax = 0.0f;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const float d = amax / 8.0f;
    const float bound = d + d * 8.0f / 2048.0f + 1e-6f;
    for (size_t j = 0; j < 32; ++j) EXPECT_LE(std::fabs(x[b * 32 + j] - back[b * 32 + j]), bound) << b << "," << j;
  }
}

TEST(Quantize, DenseRoundTripAndUnsupported) {
  std::vector<float> x = {1.0f, -2.5f, 65504.0f, 0.0f};
  std::vector<uint8_t> bytes(8);
  ASSERT_TRUE(quantize_row(DType::kF16, x.data(), bytes.data(), 4).ok());
  std::vector<float> back(4);
  dequantize_row(DType::kF16, bytes.data(), back.data(), 4);
  EXPECT_EQ(back, x);
  ASSERT_TRUE(quantize_row(DType::kBF16, x.data(), bytes.data(), 2).ok());
  dequantize_row(DType::kBF16, bytes.data(), back.data(), 2);
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], -2.5f);
  std::vector<float> block(256, 0.0f);
  std::vector<uint8_t> out(144);
  Status status = quantize_row(DType::kQ4_K, block.data(), out.data(), 256);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace llm
