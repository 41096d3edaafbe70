// Synthetic models: a known Llama shape with random weights made by the device that runs them (no
// file, nothing generated on the host), for benchmarks (`llama bench --synthetic NAME`).
// Deterministic for a given seed, whatever the device or the parallel layout.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/loader.h"

namespace llm {

// Known shapes: llama-100m, llama3.2-1b, llama3.2-3b, llama3.1-8b, llama3.1-70b.
Result<LlamaConfig> synthetic_config(const std::string& name);
std::vector<std::string> synthetic_model_names();

struct SyntheticOptions {
  DType dtype = DType::kBF16;  // weights' dtype: f32 | f16 | bf16
  uint64_t seed = 1;
};

// Weights ~N(0, 1/fan_in) in spirit (uniform with that variance), norms 1. The sources hold no
// bytes: each carries a SyntheticFill (backend/synthetic_fill.h) that the rank's backend makes
// its slice from when the model is placed.
Result<std::unique_ptr<LoadedModel>> make_synthetic_model(const LlamaConfig& config, const SyntheticOptions& options);

}  // namespace llm
