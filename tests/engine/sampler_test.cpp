#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "engine/sampler.h"
#include "util/str.h"

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

namespace llm {
namespace {

// The sampler as it was before pick_token (copied verbatim from sampler.cpp at 6c38d84, penalties
// included): the independent reference that Sampler must still match draw for draw.
class OldSampler {
 public:
  explicit OldSampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

  int32_t sample(std::span<const float> logits_in, std::span<const int32_t> context, size_t n_prompt = 0) {
    std::vector<float> logits(logits_in.begin(), logits_in.end());
    const int32_t vocab = static_cast<int32_t>(logits.size());
    if (params_.repetition_penalty != 1.0f) {
      std::vector<bool> seen(logits.size(), false);
      for (int32_t token : context) {
        if (token < 0 || token >= vocab || seen[static_cast<size_t>(token)]) continue;
        seen[static_cast<size_t>(token)] = true;
        float& logit = logits[static_cast<size_t>(token)];
        logit = logit > 0 ? logit / params_.repetition_penalty : logit * params_.repetition_penalty;
      }
    }
    if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
      std::vector<int32_t> counts(logits.size(), 0);
      for (size_t i = std::min(n_prompt, context.size()); i < context.size(); ++i) {
        if (context[i] >= 0 && context[i] < vocab) ++counts[static_cast<size_t>(context[i])];
      }
      for (size_t token = 0; token < counts.size(); ++token) {
        if (counts[token] == 0) continue;
        logits[token] -= params_.frequency_penalty * static_cast<float>(counts[token]) + params_.presence_penalty;
      }
    }
    if (params_.temperature <= 0) {
      return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    std::vector<int32_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)];
    });
    size_t keep = order.size();
    if (params_.top_k > 0) keep = std::min(keep, static_cast<size_t>(params_.top_k));
    std::vector<double> probs(keep);
    double max_logit = logits[static_cast<size_t>(order[0])] / params_.temperature;
    double total = 0;
    for (size_t i = 0; i < keep; ++i) {
      probs[i] = std::exp(logits[static_cast<size_t>(order[i])] / params_.temperature - max_logit);
      total += probs[i];
    }
    for (double& p : probs) p /= total;
    if (params_.top_p < 1.0f) {
      double cumulative = 0;
      size_t prefix = 0;
      while (prefix < keep) {
        cumulative += probs[prefix++];
        if (cumulative >= params_.top_p) break;
      }
      keep = std::max<size_t>(prefix, 1);
    }
    if (params_.min_p > 0.0f) {
      double threshold = params_.min_p * probs[0];
      size_t above = 1;
      while (above < keep && probs[above] >= threshold) ++above;
      keep = above;
    }
    double mass = 0;
    for (size_t i = 0; i < keep; ++i) mass += probs[i];
    double draw = std::uniform_real_distribution<double>(0.0, mass)(rng_);
    for (size_t i = 0; i < keep; ++i) {
      draw -= probs[i];
      if (draw < 0) return order[i];
    }
    return order[keep - 1];
  }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

// `steps` consecutive draws of one Sampler and of the old sampler over the same logits (from
// make_logits), each draw appended to the context the next one penalises: equal draw for draw,
// so both the picks and the RNG consumption are unchanged. Returns the draws compared.
template <class MakeLogits>
int expect_old_sampler_draws(const SamplingParams& params, int steps, MakeLogits&& make_logits) {
  EXPECT_TRUE(params.validate().ok());
  Sampler sampler(params);
  OldSampler old(params);
  std::vector<int32_t> context;
  for (int step = 0; step < steps; ++step) {
    const std::vector<float> logits = make_logits();
    const int32_t expected = old.sample(logits, context, 3);
    const int32_t got = sampler.sample(logits, context, 3);
    EXPECT_EQ(got, expected) << "step " << step;
    if (got != expected) return step;
    context.push_back(expected);
  }
  return steps;
}

// Random finite logits (some exact ties), random valid params and seeds: 25 consecutive draws of
// one Sampler equal the old sampler's, so both the picks and the RNG consumption are unchanged.
TEST(Sampler, MatchesTheSamplerBeforePickToken) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> vocab_dist(1, 600);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  int sampled = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int vocab = vocab_dist(rng);
    const float scale = trial % 3 == 0 ? 0.3f : trial % 3 == 1 ? 3.0f : 15.0f;
    std::normal_distribution<float> normal(0.0f, scale);
    SamplingParams params{
        .temperature = trial % 5 == 0 ? 0.0f : 0.2f + 2.0f * unit(rng),
        .top_k = trial % 4 == 0 ? 0 : static_cast<int32_t>(rng() % 50),
        .top_p = trial % 3 == 0 ? 1.0f : 0.05f + 0.95f * unit(rng),
        .min_p = trial % 2 == 0 ? 0.0f : 0.3f * unit(rng),
        .repetition_penalty = trial % 6 == 1 ? 1.3f : 1.0f,
        .presence_penalty = trial % 7 == 2 ? 0.5f : 0.0f,
        .frequency_penalty = trial % 8 == 3 ? 0.25f : 0.0f,
        .seed = rng(),
    };
    SCOPED_TRACE(str("trial ", trial));
    sampled += expect_old_sampler_draws(params, 25, [&] {
      std::vector<float> logits(static_cast<size_t>(vocab));
      for (float& logit : logits) logit = normal(rng);
      if (trial % 4 == 2) {
        for (float& logit : logits) logit = std::round(logit);  // exact ties
      }
      return logits;
    });
    if (HasFailure()) return;
  }
  EXPECT_EQ(sampled, 400 * 25);
}

// A Llama 3 sized vocabulary, where pick_token orders the candidates by radix sort (no top_k, or
// a large one) or by partial selection (small top_k): the same draws as the old sampler, with
// exact ties (rounded logits, -0 and +0 among them), -inf logits and penalties.
TEST(Sampler, MatchesTheSamplerBeforePickTokenOnALargeVocabulary) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  const int vocab = 128256;
  for (int trial = 0; trial < 12; ++trial) {
    std::normal_distribution<float> normal(0.0f, trial % 2 == 0 ? 3.0f : 0.4f);
    SamplingParams params{
        .temperature = 0.3f + 1.5f * unit(rng),
        .top_k = trial % 3 == 0 ? 0 : trial % 3 == 1 ? 40 : 50000,
        .top_p = trial % 4 < 2 ? 1.0f : 0.9f,
        .min_p = trial % 5 == 4 ? 0.05f : 0.0f,
        .repetition_penalty = trial % 2 == 1 ? 1.1f : 1.0f,
        .seed = rng(),
    };
    SCOPED_TRACE(str("trial ", trial));
    const int drawn = expect_old_sampler_draws(params, 6, [&] {
      std::vector<float> logits(static_cast<size_t>(vocab));
      for (float& logit : logits) logit = normal(rng);
      if (trial % 4 == 1) {
        for (float& logit : logits) logit = std::round(logit * 2.0f) / 2.0f;  // many exact ties, -0 too
      }
      if (trial % 3 == 2) {
        for (int i = 0; i < vocab; i += 7) logits[static_cast<size_t>(i)] = -std::numeric_limits<float>::infinity();
      }
      return logits;
    });
    ASSERT_EQ(drawn, 6);
  }
}

// next_draw() is what sample() uses: with no penalties, pick_token(logits, next_draw()) of one
// sampler replays sample() of another with the same seed.
TEST(Sampler, NextDrawReplaysSample) {
  SamplingParams params{.temperature = 0.8f, .top_k = 20, .top_p = 0.9f, .min_p = 0.02f, .seed = 11};
  Sampler host(params), device(params);
  EXPECT_TRUE(device.penalty_free());
  EXPECT_FALSE(Sampler(SamplingParams{.repetition_penalty = 1.1f}).penalty_free());
  EXPECT_FALSE(Sampler(SamplingParams{.presence_penalty = 0.1f}).penalty_free());
  EXPECT_FALSE(Sampler(SamplingParams{.frequency_penalty = -0.1f}).penalty_free());
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int step = 0; step < 200; ++step) {
    std::vector<float> logits(100);
    for (float& logit : logits) logit = normal(rng);
    const TokenSampling draw = device.next_draw();
    EXPECT_EQ(draw.temperature, 0.8f);
    EXPECT_EQ(draw.top_k, 20);
    EXPECT_TRUE(draw.uniform >= 0.0 && draw.uniform < 1.0) << draw.uniform;
    ASSERT_EQ(pick_token(logits, draw), host.sample(logits, {})) << "step " << step;
  }
  // Greedy: no uniform is drawn.
  Sampler greedy(SamplingParams{.seed = 5});
  EXPECT_EQ(greedy.next_draw().uniform, 0.0);
}

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(PickToken, GreedyAndTies) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 2.0f};
  EXPECT_EQ(pick_token(logits, {}), 1);
  EXPECT_EQ(pick_token(logits, {.temperature = -1.0f}), 1);
  EXPECT_EQ(pick_token(logits, {.temperature = kNaN}), 1);  // not > 0: greedy
  // Sampling: the three tied tops share the mass equally (0.5 and -1 are far below at T 0.01),
  // walked in id order.
  EXPECT_EQ(pick_token(logits, {.temperature = 0.01f, .uniform = 0.0}), 1);
  EXPECT_EQ(pick_token(logits, {.temperature = 0.01f, .uniform = 0.5}), 3);
  EXPECT_EQ(pick_token(logits, {.temperature = 0.01f, .uniform = 0.9}), 4);
  // top_k 1: the first of the ties, whatever the draw; top_k 2: the first two.
  EXPECT_EQ(pick_token(logits, {.temperature = 1.0f, .top_k = 1, .uniform = 0.99}), 1);
  EXPECT_EQ(pick_token(logits, {.temperature = 0.01f, .top_k = 2, .uniform = 0.99}), 3);
  // -0 and +0 are ties.
  EXPECT_EQ(pick_token(std::vector<float>{-0.0f, 0.0f}, {}), 0);
  EXPECT_EQ(pick_token(std::vector<float>{-0.0f, 0.0f}, {.temperature = 1.0f, .uniform = 0.75}), 1);
}

TEST(PickToken, CutsAndDraws) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 at T 1 (ids shuffled so order and id differ).
  const std::vector<float> logits = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
  const TokenSampling base{.temperature = 1.0f};
  auto with = [&](TokenSampling params, double uniform) {
    params.uniform = uniform;
    return pick_token(logits, params);
  };
  EXPECT_EQ(with(base, 0.0), 1);
  EXPECT_EQ(with(base, 0.49), 1);
  EXPECT_EQ(with(base, 0.51), 3);
  EXPECT_EQ(with(base, 0.81), 0);
  EXPECT_EQ(with(base, 0.999999), 2);
  // top_k larger than the vocab is no cut; top_k 2 renormalises over {1, 3}.
  EXPECT_EQ(with({.temperature = 1.0f, .top_k = 1000}, 0.999999), 2);
  EXPECT_EQ(with({.temperature = 1.0f, .top_k = 2}, 0.7), 3);
  EXPECT_EQ(with({.temperature = 1.0f, .top_k = 2}, 0.999999), 3);
  EXPECT_EQ(with({.temperature = 1.0f, .top_k = -3}, 0.999999), 2);  // <= 0: off
  // top_p: 0.6 keeps {1, 3}; tiny, zero or negative keep the top one; NaN is off.
  EXPECT_EQ(with({.temperature = 1.0f, .top_p = 0.6f}, 0.999999), 3);
  EXPECT_EQ(with({.temperature = 1.0f, .top_p = 1e-6f}, 0.999999), 1);
  EXPECT_EQ(with({.temperature = 1.0f, .top_p = 0.0f}, 0.999999), 1);
  EXPECT_EQ(with({.temperature = 1.0f, .top_p = -1.0f}, 0.999999), 1);
  EXPECT_EQ(with({.temperature = 1.0f, .top_p = kNaN}, 0.999999), 2);
  // min_p 0.25 keeps p >= 0.125: {1, 3, 0}; min_p 1 keeps the top (and its ties) only.
  EXPECT_EQ(with({.temperature = 1.0f, .min_p = 0.25f}, 0.999999), 0);
  EXPECT_EQ(with({.temperature = 1.0f, .min_p = 1.0f}, 0.999999), 1);
  EXPECT_EQ(pick_token(std::vector<float>{1.0f, 3.0f, 3.0f}, {.temperature = 1.0f, .min_p = 1.0f, .uniform = 0.6}), 2);
  // Draws outside [0, 1): NaN and negative act as 0; >= 1 ends the walk on the last kept token.
  EXPECT_EQ(with(base, kNaN), 1);
  EXPECT_EQ(with(base, -0.5), 1);
  EXPECT_EQ(with(base, 1.5), 2);
  EXPECT_EQ(with({.temperature = 1.0f, .top_k = 3}, 1.0), 0);
}

TEST(PickToken, InfinitiesAndNaN) {
  // -inf never wins a draw (probability 0), NaN counts as -inf.
  const std::vector<float> masked = {-kInf, 1.0f, kNaN, 1.0f, -kInf};
  for (double uniform : {0.0, 0.3, 0.7, 0.999999}) {
    const int32_t token = pick_token(masked, {.temperature = 1.0f, .uniform = uniform});
    EXPECT_TRUE(token == 1 || token == 3) << uniform << " -> " << token;
  }
  EXPECT_EQ(pick_token(masked, {.temperature = 1.0f, .uniform = 0.7}), 3);
  EXPECT_EQ(pick_token(std::vector<float>{kNaN, -1.0f}, {}), 1);
  // No finite top / temperature: the argmax.
  EXPECT_EQ(pick_token(std::vector<float>{-kInf, -kInf, -kInf}, {.temperature = 1.0f, .uniform = 0.5}), 0);
  EXPECT_EQ(pick_token(std::vector<float>{kNaN, kNaN}, {.temperature = 1.0f, .uniform = 0.5}), 0);
  EXPECT_EQ(pick_token(std::vector<float>{1.0f, kInf, kInf}, {.temperature = 1.0f, .uniform = 0.9}), 1);
  EXPECT_EQ(pick_token(std::vector<float>{1.0f, 3.0f, 2.0f}, {.temperature = 1e-39f, .uniform = 0.9}), 1);
  // A single token is always it.
  EXPECT_EQ(pick_token(std::vector<float>{-5.0f}, {.temperature = 2.0f, .top_k = 7, .top_p = 0.1f, .uniform = 0.9}),
            0);
}

}  // namespace
}  // namespace llm
