#include "backend/sampling.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cmath>
#include <limits>
#include <vector>

#include "util/check.h"

namespace llm {
namespace {

// The logit's place in pick order as an unsigned key: ascending keys are descending logits. -0
// and +0 compare equal as floats, so they get one key (the id then breaks the tie, as in a
// stable sort by logit).
uint32_t descending_key(float logit) {
  const uint32_t bits = std::bit_cast<uint32_t>(logit + 0.0f);  // -0 + 0 is +0; all else unchanged
  // Negative: flip every bit; else set the sign bit. That orders the keys as the floats.
  const uint32_t ascending = bits ^ ((0u - (bits >> 31)) | 0x80000000u);
  return ~ascending;
}

// Buffers of one thread's picks, kept between calls: for a 128k vocabulary they are ~3 MB, and
// fresh ones each call cost more in page faults than the work done in them.
struct PickWorkspace {
  std::vector<float> logits;
  std::vector<uint64_t> keys, scratch;
  std::vector<int32_t> order;
  std::vector<double> probs;
};

// The first `count` candidates in pick order (into w.order): logit descending, ties by lower id
// first, which is what a stable sort by logit of ids 0..n-1 gives. Each candidate is one 64-bit
// key (the logit's key above the id), so the order is a plain ascending order of distinct keys:
// partial selection when few are kept (top_k), else an LSD radix sort on the logit's 32 bits
// (3 passes of 11 bits; stable, over keys that start in id order). A comparison sort of 128k
// indices took ~25 ms a pick (128k logits, dev machine); with this the whole pick takes ~2.
void candidates_in_order(PickWorkspace& w, size_t count) {
  const size_t n = w.logits.size();
  std::vector<uint64_t>& keys = w.keys;
  keys.resize(n);
  for (size_t i = 0; i < n; ++i) keys[i] = uint64_t{descending_key(w.logits[i])} << 32 | i;
  if (count < n / 8 || n < 4096) {
    std::nth_element(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(count), keys.end());
    std::sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(count));
  } else {
    constexpr int kBits = 11, kDigits = 1 << kBits;
    w.scratch.resize(n);
    for (int shift = 32; shift < 64; shift += kBits) {
      uint32_t offsets[kDigits + 1] = {};
      for (uint64_t key : keys) ++offsets[((key >> shift) & (kDigits - 1)) + 1];
      for (int d = 0; d < kDigits; ++d) offsets[d + 1] += offsets[d];
      for (uint64_t key : keys) w.scratch[offsets[(key >> shift) & (kDigits - 1)]++] = key;
      keys.swap(w.scratch);
    }
  }
  w.order.resize(count);
  for (size_t i = 0; i < count; ++i) w.order[i] = static_cast<int32_t>(keys[i] & 0xffffffffu);
}

}  // namespace

int32_t pick_token(std::span<const float> logits_in, const TokenSampling& params) {
  LLM_CHECK(!logits_in.empty(), "pick_token: expected at least one logit, got 0");
  // NaN has no place in the ordering; as -inf it never wins.
  thread_local PickWorkspace workspace;
  std::vector<float>& logits = workspace.logits;
  logits.assign(logits_in.begin(), logits_in.end());
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

  // Candidates sorted by logit, highest first (ties: lower id first); only the top_k are needed.
  size_t keep = logits.size();
  if (params.top_k > 0) keep = std::min(keep, static_cast<size_t>(params.top_k));
  candidates_in_order(workspace, keep);
  const std::vector<int32_t>& order = workspace.order;
  // Softmax over the kept candidates at the given temperature (double for the sums).
  std::vector<double>& probs = workspace.probs;
  probs.resize(keep);
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
