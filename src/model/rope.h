// RoPE inverse frequencies per rotated pair, with the checkpoint's scaling applied.
#pragma once

#include <span>
#include <vector>

#include "model/config.h"

namespace llm {

// inv_freq[j] = theta^(-2j / head_dim), then scaled as config.rope_scaling says (llama3: the
// formula of transformers' _compute_llama3_parameters / llama-models apply_scaling, with the
// checkpoint's own factor). Size head_dim / 2.
std::vector<float> rope_inverse_frequencies(const LlamaConfig& config);

// GGUF's rope_freqs.weight holds a divisor per pair (llama.cpp: freq = base_freq / factor).
std::vector<float> rope_inverse_frequencies_with_factors(const LlamaConfig& config, std::span<const float> factors);

}  // namespace llm
