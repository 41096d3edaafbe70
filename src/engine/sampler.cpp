#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "util/str.h"

namespace llm {

Status SamplingParams::validate() const {
  auto bad = [](const std::string& what) { return make_error(ErrorCode::kInvalidArgument, what); };
  if (!(temperature >= 0) || !std::isfinite(temperature)) return bad(str("temperature must be >= 0, got ", temperature));
  if (top_k < 0) return bad(str("top_k must be >= 0, got ", top_k));
  if (!(top_p > 0 && top_p <= 1)) return bad(str("top_p must be in (0, 1], got ", top_p));
  if (!(min_p >= 0 && min_p <= 1)) return bad(str("min_p must be in [0, 1], got ", min_p));
  if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty)) {
    return bad(str("repetition_penalty must be > 0, got ", repetition_penalty));
  }
  if (!(presence_penalty >= -2 && presence_penalty <= 2)) {
    return bad(str("presence_penalty must be in [-2, 2], got ", presence_penalty));
  }
  if (!(frequency_penalty >= -2 && frequency_penalty <= 2)) {
    return bad(str("frequency_penalty must be in [-2, 2], got ", frequency_penalty));
  }
  return {};
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

int32_t Sampler::sample(std::span<const float> logits_in, std::span<const int32_t> context, size_t n_prompt) {
  if (penalty_free()) return pick_token(logits_in, next_draw());  // nothing to change: no copy
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
  return pick_token(logits, next_draw());
}

bool Sampler::penalty_free() const {
  return params_.repetition_penalty == 1.0f && params_.presence_penalty == 0.0f && params_.frequency_penalty == 0.0f;
}

TokenSampling Sampler::next_draw() {
  TokenSampling draw{
      .temperature = params_.temperature,
      .top_k = params_.top_k,
      .top_p = params_.top_p,
      .min_p = params_.min_p,
  };
  // The canonical draw behind std::uniform_real_distribution<double>(0, mass), which the sampler
  // used before pick_token existed: the same RNG consumption, the same doubles.
  if (params_.temperature > 0) {
    draw.uniform = std::generate_canonical<double, std::numeric_limits<double>::digits>(rng_);
  }
  return draw;
}

}  // namespace llm
