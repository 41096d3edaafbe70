#include "model/rope.h"

#include <cmath>
#include <numbers>

#include "util/check.h"

namespace llm {
namespace {

std::vector<double> base_frequencies(const LlamaConfig& config) {
  std::vector<double> freqs(static_cast<size_t>(config.head_dim / 2));
  for (size_t j = 0; j < freqs.size(); ++j) {
    // transformers computes arange(0, dim, 2).float() / dim in float32, then theta ** that.
    float exponent = static_cast<float>(2 * j) / static_cast<float>(config.head_dim);
    freqs[j] = 1.0 / std::pow(config.rope_theta, static_cast<double>(exponent));
  }
  return freqs;
}

}  // namespace

std::vector<float> rope_inverse_frequencies(const LlamaConfig& config) {
  std::vector<double> freqs = base_frequencies(config);
  const RopeScaling& scaling = config.rope_scaling;
  switch (scaling.type) {
    case RopeScalingType::kNone:
      break;
    case RopeScalingType::kLinear:
      for (double& f : freqs) f /= scaling.factor;
      break;
    case RopeScalingType::kLlama3: {
      double original = static_cast<double>(scaling.original_max_position);
      double low_freq_wavelen = original / scaling.low_freq_factor;
      double high_freq_wavelen = original / scaling.high_freq_factor;
      for (double& f : freqs) {
        double wavelen = 2 * std::numbers::pi / f;
        if (wavelen < high_freq_wavelen) continue;  // high frequencies: unchanged
        if (wavelen > low_freq_wavelen) {           // low frequencies: divided by the factor
          f /= scaling.factor;
          continue;
        }
        double smooth = (original / wavelen - scaling.low_freq_factor) /
                        (scaling.high_freq_factor - scaling.low_freq_factor);
        f = (1 - smooth) * f / scaling.factor + smooth * f;
      }
      break;
    }
  }
  return std::vector<float>(freqs.begin(), freqs.end());
}

std::vector<float> rope_inverse_frequencies_with_factors(const LlamaConfig& config, std::span<const float> factors) {
  std::vector<double> freqs = base_frequencies(config);
  LLM_CHECK(factors.size() == freqs.size(), "rope factors ", factors.size(), " for ", freqs.size(), " pairs");
  std::vector<float> out(freqs.size());
  for (size_t j = 0; j < freqs.size(); ++j) out[j] = static_cast<float>(freqs[j] / factors[j]);
  return out;
}

}  // namespace llm
