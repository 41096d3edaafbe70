// Token picking after the penalties: the one definition of temperature / top-k / top-p / min-p
// sampling that the host Sampler and every backend's sample op share. The draw is an input (a
// uniform made by the caller's RNG), so a device can pick the token and only ids cross PCIe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace llm {

// One row's sampling parameters as the device op takes them. POD: the CUDA kernel reads this
// exact layout from a buffer of 6 int32 per row.
struct TokenSampling {
  float temperature = 0;  // not in (0, inf) (incl. NaN): greedy
  int32_t top_k = 0;      // <= 0: off; > vocab acts as vocab
  float top_p = 1;        // not < 1 (incl. NaN): off; <= 0 keeps the top token only
  float min_p = 0;        // not > 0 (incl. NaN): off
  double uniform = 0;     // the draw, in [0, 1), made by the caller's RNG; NaN or < 0 act as 0
};
static_assert(sizeof(TokenSampling) == 24 && std::is_trivially_copyable_v<TokenSampling> &&
              std::is_standard_layout_v<TokenSampling>);
static_assert(offsetof(TokenSampling, top_k) == 4 && offsetof(TokenSampling, top_p) == 8 &&
              offsetof(TokenSampling, min_p) == 12 && offsetof(TokenSampling, uniform) == 16);
inline constexpr int64_t kTokenSamplingWords = sizeof(TokenSampling) / sizeof(int32_t);  // 6

// The reference, exactly the host Sampler's algorithm after its penalties:
// greedy -> argmax (ties: lowest id). Otherwise candidates sorted by logit, highest first (ties:
// lower id first); keep the top_k; softmax at temperature over the kept (double sums, relative to
// the top logit); top_p: the smallest prefix whose cumulative probability reaches top_p (at least
// one); min_p: the prefix with probability >= min_p x the top probability; then walk the kept in
// order subtracting probabilities from uniform x (their mass) and return the first token that
// takes it below 0 (the last kept one if rounding leaves some over).
//
// Degenerate inputs, defined so that devices can match them (the old Sampler had no answer):
// NaN logits count as -inf; when the top logit / temperature is not finite (all -inf, a +inf
// logit, or an overflow at a tiny temperature) the pick is the argmax.
// logits: [vocab], vocab >= 1.
int32_t pick_token(std::span<const float> logits, const TokenSampling& params);

}  // namespace llm
