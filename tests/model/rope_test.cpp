// RoPE frequencies: the unscaled formula theta^(-2j/d), and the llama3 rule's defining
// properties (high frequencies kept, low ones divided by the factor, the band in between
// blended), checked on the Llama 3.1 8B / 3.2 1B parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "model/rope.h"

namespace llm {
namespace {

LlamaConfig llama_config(double factor) {
  LlamaConfig c;
  c.head_dim = 128;
  c.rope_theta = 500000.0;
  c.rope_scaling = RopeScaling{.type = RopeScalingType::kLlama3, .factor = factor, .low_freq_factor = 1.0,
                               .high_freq_factor = 4.0, .original_max_position = 8192};
  return c;
}

TEST(Rope, UnscaledIsThetaPower) {
  LlamaConfig c;
  c.head_dim = 16;
  c.rope_theta = 10000.0;
  std::vector<float> f = rope_inverse_frequencies(c);
  ASSERT_EQ(f.size(), 8u);
  EXPECT_FLOAT_EQ(f[0], 1.0f);
  EXPECT_FLOAT_EQ(f[4], 0.01f);   // 10000^(-8/16)
  EXPECT_FLOAT_EQ(f[2], 0.1f);    // 10000^(-4/16)
}

TEST(Rope, Llama3KeepsHighDividesLowBlendsMiddle) {
  for (double factor : {8.0, 32.0}) {
    LlamaConfig scaled = llama_config(factor), plain = llama_config(1.0);
    plain.rope_scaling.type = RopeScalingType::kNone;
    std::vector<float> s = rope_inverse_frequencies(scaled), p = rope_inverse_frequencies(plain);
    int kept = 0, divided = 0, blended = 0;
    for (size_t j = 0; j < s.size(); ++j) {
      double wavelen = 2 * std::numbers::pi / p[j];
      if (wavelen < 2048) {
        EXPECT_FLOAT_EQ(s[j], p[j]) << j;
        ++kept;
      } else if (wavelen > 8192) {
        EXPECT_FLOAT_EQ(s[j], static_cast<float>(p[j] / factor)) << j;
        ++divided;
      } else {
        EXPECT_LT(s[j], p[j]) << j;
        EXPECT_GT(s[j], p[j] / factor) << j;
        ++blended;
      }
    }
    EXPECT_GT(kept, 0);
    EXPECT_GT(divided, 0);
    EXPECT_GT(blended, 0);
  }
}

TEST(Rope, GgufFactorsDivide) {
  LlamaConfig c;
  c.head_dim = 4;
  c.rope_theta = 10000.0;
  std::vector<float> factors = {1.0f, 8.0f};
  std::vector<float> f = rope_inverse_frequencies_with_factors(c, factors);
  EXPECT_FLOAT_EQ(f[0], 1.0f);
  EXPECT_FLOAT_EQ(f[1], 0.01f / 8.0f);
}

}  // namespace
}  // namespace llm
