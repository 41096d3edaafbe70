#include "backend/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "util/check.h"

namespace llm {

int32_t pick_token(std::span<const float> logits_in, const TokenSampling& params) {
  LLM_CHECK(!logits_in.empty(), "pick_token: expected at least one logit, got 0");
  // NaN would break the ordering (and std::stable_sort's strict weak order); -inf never wins.
  std::vector<float> logits(logits_in.begin(), logits_in.end());
  for (float& logit : logits) {
    if (std::isnan(logit)) logit = -std::numeric_limits<float>::infinity();
  }
  const int32_t argmax = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  // Not in (0, inf) (incl. NaN): greedy. An infinite temperature would make -inf / T a NaN.
  if (!(params.temperature > 0) || std::isinf(params.temperature)) return argmax;
  // The softmax is taken relative to the top logit scaled the way every candidate is (float
  // division, then double); if that is not finite, neither is any probability.
  const float top_scaled = logits[static_cast<size_t>(argmax)] / params.temperature;
  if (!std::isfinite(top_scaled)) return argmax;

  // Candidates sorted by logit, highest first (ties: lower id first).
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)];
  });
  size_t keep = order.size();
  if (params.top_k > 0) keep = std::min(keep, static_cast<size_t>(params.top_k));
  // Softmax over the kept candidates at the given temperature (double for the sums).
  std::vector<double> probs(keep);
  const double max_logit = top_scaled;
  double total = 0;
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp(logits[static_cast<size_t>(order[i])] / params.temperature - max_logit);
    total += probs[i];
  }
  for (double& p : probs) p /= total;
  if (params.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p
    double cumulative = 0;
    size_t prefix = 0;
    while (prefix < keep) {
      cumulative += probs[prefix++];
      if (cumulative >= params.top_p) break;
    }
    keep = std::max<size_t>(prefix, 1);
  }
  if (params.min_p > 0.0f) {  // drop candidates below min_p x the top probability
    const double threshold = params.min_p * probs[0];
    size_t above = 1;
    while (above < keep && probs[above] >= threshold) ++above;
    keep = above;
  }
  double mass = 0;
  for (size_t i = 0; i < keep; ++i) mass += probs[i];
  // uniform x mass is what std::uniform_real_distribution<double>(0, mass) computes from the same
  // canonical draw, so the host Sampler's tokens are unchanged.
  const double uniform = params.uniform >= 0 ? params.uniform : 0.0;  // NaN and < 0 -> 0
  double draw = uniform * mass;
  for (size_t i = 0; i < keep; ++i) {
    draw -= probs[i];
    if (draw < 0) return order[i];
  }
  return order[keep - 1];
}

}  // namespace llm
