#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "engine/sampler.h"

namespace llm {
namespace {

TEST(Sampler, GreedyTakesArgmaxAndLowestIdOnTies) {
  Sampler sampler(SamplingParams{});
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(sampler.sample(logits, {}), 1);
}

TEST(Sampler, RepetitionPenaltyFollowsTransformers) {
  // transformers RepetitionPenaltyLogitsProcessor: positive logits divided, negative multiplied.
  Sampler sampler(SamplingParams{.repetition_penalty = 2.0f});
  std::vector<float> logits = {1.5f, 1.0f, -0.1f};
  std::vector<int32_t> context = {0};
  EXPECT_EQ(sampler.sample(logits, context), 1);  // 1.5 -> 0.75 < 1.0
}

std::map<int32_t, int> histogram(SamplingParams params, const std::vector<float>& logits, int draws) {
  Sampler sampler(params);
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i) counts[sampler.sample(logits, {})]++;
  return counts;
}

TEST(Sampler, TemperatureSamplesTheSoftmax) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  auto counts = histogram(SamplingParams{.temperature = 1.0f, .seed = 7}, logits, 20000);
  EXPECT_NEAR(counts[0] / 20000.0, 0.5, 0.02);
  EXPECT_NEAR(counts[1] / 20000.0, 0.3, 0.02);
  EXPECT_NEAR(counts[2] / 20000.0, 0.2, 0.02);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits = {0.1f, 0.2f, 0.3f, 0.4f};
  Sampler a(SamplingParams{.temperature = 1.0f, .seed = 42}), b(SamplingParams{.temperature = 1.0f, .seed = 42});
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.sample(logits, {}), b.sample(logits, {}));
}

TEST(Sampler, TopKTopPMinPRestrictTheCandidates) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  auto top_k = histogram(SamplingParams{.temperature = 1.0f, .top_k = 2, .seed = 1}, logits, 5000);
  EXPECT_EQ(top_k.count(2) + top_k.count(3), 0u);
  EXPECT_NEAR(top_k[0] / 5000.0, 0.5 / 0.8, 0.03);
  // top_p 0.6: 0.5 < 0.6, 0.5 + 0.3 >= 0.6 -> tokens {0, 1}.
  auto top_p = histogram(SamplingParams{.temperature = 1.0f, .top_p = 0.6f, .seed = 2}, logits, 5000);
  EXPECT_EQ(top_p.count(2) + top_p.count(3), 0u);
  EXPECT_GT(top_p[1], 0);
  // min_p 0.25: keep p >= 0.125 -> tokens {0, 1, 2}.
  auto min_p = histogram(SamplingParams{.temperature = 1.0f, .min_p = 0.25f, .seed = 3}, logits, 5000);
  EXPECT_EQ(min_p.count(3), 0u);
  EXPECT_GT(min_p[2], 0);
}

TEST(Sampler, ValidatesRanges) {
  EXPECT_EQ(SamplingParams{.temperature = -1}.validate().error().message, "temperature must be >= 0, got -1");
  EXPECT_EQ(SamplingParams{.top_p = 0}.validate().error().message, "top_p must be in (0, 1], got 0");
  EXPECT_EQ(SamplingParams{.min_p = 2}.validate().error().message, "min_p must be in [0, 1], got 2");
  EXPECT_TRUE(SamplingParams{}.validate().ok());
}

}  // namespace
}  // namespace llm

namespace llm {
namespace {

// OpenAI's definition: mu[j] -= c[j] * frequency_penalty + (c[j] > 0) * presence_penalty, with c the
// counts of j among the generated tokens (the prompt does not count).
TEST(Sampler, PresenceAndFrequencyPenaltiesCountGeneratedTokensOnly) {
  std::vector<float> logits = {3.0f, 2.5f, 1.0f};
  std::vector<int32_t> context = {1, 1, 0, 0};  // prompt {1, 1}, generated {0, 0}
  // Token 0 was generated twice: 3 - 2 * 0.2 - 0.5 = 2.1 < 2.5, so 1 wins.
  Sampler both(SamplingParams{.presence_penalty = 0.5f, .frequency_penalty = 0.2f});
  EXPECT_EQ(both.sample(logits, context, /*n_prompt=*/2), 1);
  // Only the frequency term: 3 - 0.4 = 2.6 > 2.5, token 0 stays.
  Sampler frequency(SamplingParams{.frequency_penalty = 0.2f});
  EXPECT_EQ(frequency.sample(logits, context, 2), 0);
  // The prompt's two 1s do not count: with everything generated, token 1 would drop instead.
  Sampler presence(SamplingParams{.presence_penalty = 1.0f});
  EXPECT_EQ(presence.sample(logits, context, 2), 1);  // 3 - 1 = 2 < 2.5
  EXPECT_EQ(presence.sample(logits, std::vector<int32_t>{1, 1}, 0), 0);  // 2.5 - 1 = 1.5
  EXPECT_EQ(SamplingParams{.presence_penalty = 3}.validate().error().message,
            "presence_penalty must be in [-2, 2], got 3");
}

}  // namespace
}  // namespace llm
