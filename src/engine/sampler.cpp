#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
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
  // Candidates sorted by logit, highest first (ties: lower id first).
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)];
  });
  size_t keep = order.size();
  if (params_.top_k > 0) keep = std::min(keep, static_cast<size_t>(params_.top_k));
  // Softmax over the kept candidates at the given temperature (double for the sums).
  std::vector<double> probs(keep);
  double max_logit = logits[static_cast<size_t>(order[0])] / params_.temperature;
  double total = 0;
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp(logits[static_cast<size_t>(order[i])] / params_.temperature - max_logit);
    total += probs[i];
  }
  for (double& p : probs) p /= total;
  if (params_.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p
    double cumulative = 0;
    size_t prefix = 0;
    while (prefix < keep) {
      cumulative += probs[prefix++];
      if (cumulative >= params_.top_p) break;
    }
    keep = std::max<size_t>(prefix, 1);
  }
  if (params_.min_p > 0.0f) {  // drop candidates below min_p x the top probability
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

}  // namespace llm
