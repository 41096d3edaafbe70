// Expected bit patterns are IEEE 754 facts (binary16 / bfloat16 encodings), not our code's output.
#include <gtest/gtest.h>

#include <cmath>

#include "core/half.h"

namespace llm {

TEST(Half, KnownF16Encodings) {
  EXPECT_EQ(float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_f16(1e6f), 0x7c00);
  EXPECT_EQ(float_to_f16(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_float(0x0001), 5.9604644775390625e-8f);
  EXPECT_TRUE(std::isnan(f16_to_float(0x7e00)));
}

TEST(Half, F16RoundTripsEveryFiniteValue) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    uint16_t h = static_cast<uint16_t>(bits);
    if ((h & 0x7c00) == 0x7c00) continue;  // inf/nan
    ASSERT_EQ(float_to_f16(f16_to_float(h)), h) << std::hex << bits;
  }
}

TEST(Half, KnownBf16Encodings) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(-3.0f), 0xc040);
  EXPECT_EQ(bf16_to_float(0x4049), 3.140625f);
  EXPECT_EQ(float_to_bf16(1.00390625f), 0x3f80);  // tie rounds to even
  EXPECT_EQ(float_to_bf16(1.01171875f), 0x3f82);  // tie rounds to even (up)
}

}  // namespace llm
