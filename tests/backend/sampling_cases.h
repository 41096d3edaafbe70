// Inputs for the sample op's parity tests (CPU backend and CUDA against pick_token): logits of
// several shapes of distribution, the parameter grid, and the one excuse a device has for picking
// another token than the reference: the reference's own decision sits within rounding of a boundary.
#pragma once

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu_test_util.h"
#include "backend/sampling.h"

namespace llm::test {

enum class LogitsKind {
  kNarrow,     // normal, sd 0.5: flat distributions, long top_p prefixes
  kWide,       // normal, sd 3: typical LM logits
  kPeaked,     // normal, sd 12: one or a few tokens hold nearly all the mass
  kTies,       // 7 distinct values only: long runs of exact ties
  kMasked,     // sd 3 with ~30% -inf and a few NaN (grammar masks, broken rows)
};
inline constexpr LogitsKind kAllLogitsKinds[] = {LogitsKind::kNarrow, LogitsKind::kWide, LogitsKind::kPeaked,
                                                 LogitsKind::kTies, LogitsKind::kMasked};

inline std::string logits_kind_name(LogitsKind kind) {
  switch (kind) {
    case LogitsKind::kNarrow: return "narrow";
    case LogitsKind::kWide: return "wide";
    case LogitsKind::kPeaked: return "peaked";
    case LogitsKind::kTies: return "ties";
    case LogitsKind::kMasked: return "masked";
  }
  return "?";
}

// [count] logits of the given kind.
inline std::vector<float> sampling_logits(int64_t count, LogitsKind kind, uint32_t seed) {
  std::mt19937 rng(seed);
  const double sd = kind == LogitsKind::kNarrow ? 0.5 : kind == LogitsKind::kPeaked ? 12.0 : 3.0;
  std::normal_distribution<double> normal(0.0, sd);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<float> logits(static_cast<size_t>(count));
  for (float& logit : logits) {
    logit = static_cast<float>(normal(rng));
    if (kind == LogitsKind::kTies) logit = std::round(logit) * 0.75f;  // values in {..., -0.75, 0, 0.75, ...}
    if (kind == LogitsKind::kMasked) {
      const double u = unit(rng);
      if (u < 0.3) logit = -std::numeric_limits<float>::infinity();
      else if (u < 0.302) logit = std::numeric_limits<float>::quiet_NaN();
    }
  }
  return logits;
}

// Greedy, then every combination of temperature {0.3, 1, 2.5}, top_k {0, 1, 40, vocab + 5},
// top_p {1, 0.9, 0.1, 1e-4}, min_p {0, 0.05, 1}; uniforms are set by the caller.
inline std::vector<TokenSampling> sampling_grid(int64_t vocab) {
  std::vector<TokenSampling> grid = {TokenSampling{}};
  for (float temperature : {0.3f, 1.0f, 2.5f}) {
    for (int32_t top_k : {0, 1, 40, static_cast<int32_t>(vocab + 5)}) {
      for (float top_p : {1.0f, 0.9f, 0.1f, 1e-4f}) {
        for (float min_p : {0.0f, 0.05f, 1.0f}) {
          grid.push_back(TokenSampling{.temperature = temperature, .top_k = top_k, .top_p = top_p, .min_p = min_p});
        }
      }
    }
  }
  return grid;
}

// The i-th uniform of a run: 0 and 0.999999 regularly, otherwise random in [0, 1).
inline double sampling_uniform(int64_t i, std::mt19937_64& rng) {
  if (i % 7 == 3) return 0.0;
  if (i % 11 == 5) return 0.999999;
  return std::generate_canonical<double, std::numeric_limits<double>::digits>(rng);
}

// params i32 [n, 6]: the records' bytes.
inline HostTensor sampling_params_tensor(const std::vector<TokenSampling>& params) {
  const int64_t n = static_cast<int64_t>(params.size());
  HostTensor tensor(DType::kI32, {n, kTokenSamplingWords});
  if (n > 0) std::memcpy(tensor.bytes.data(), params.data(), params.size() * sizeof(TokenSampling));
  return tensor;
}

// True when `token` is what pick_token gives for some uniform, top_p and min_p within `relative`
// of the given ones: the reference's running sum at the boundary it chose lies that close to the
// draw (or to top_p, or to the min_p threshold), so rounding of the sums decides the pick.
inline bool pick_within_rounding(std::span<const float> logits, const TokenSampling& params, int32_t token,
                                 double relative = 1e-6) {
  for (double du : {-1.0, 0.0, 1.0}) {
    for (double dp : {-1.0, 0.0, 1.0}) {
      for (double dm : {-1.0, 0.0, 1.0}) {
        TokenSampling nudged = params;  // only the cuts that are on
        nudged.uniform = params.uniform * (1.0 + du * relative);
        if (params.top_p < 1.0f) nudged.top_p = static_cast<float>(params.top_p * (1.0 + dp * relative));
        if (params.min_p > 0.0f) nudged.min_p = static_cast<float>(params.min_p * (1.0 + dm * relative));
        if (pick_token(logits, nudged) == token) return true;
      }
    }
  }
  return false;
}

}  // namespace llm::test
