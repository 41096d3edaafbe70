// Single-request generation (the `llama run` path): chunked prefill of the prompt over the paged
// KV cache, then one decode step per token until max_tokens, EOS or a stop token.
#pragma once

#include <functional>
#include <vector>

#include "engine/sampler.h"
#include "kv/block_pool.h"
#include "model/llama/llama_model.h"

namespace llm {

struct GenerateOptions {
  int32_t max_tokens = 32;
  SamplingParams sampling;
  std::vector<int32_t> stop_tokens;  // end generation (kept in the output), in addition to EOS
  bool ignore_eos = false;
  int32_t prefill_chunk = 512;       // prompt tokens per forward step
  bool keep_logits = false;          // return the logits of every sampled step (tests, --json)
};

enum class FinishReason { kLength, kStop };

struct GenerateResult {
  std::vector<int32_t> tokens;      // generated ids (a final EOS/stop token included)
  std::vector<float> step_logits;   // [tokens.size(), vocab] when keep_logits
  FinishReason finish_reason = FinishReason::kLength;
  double prefill_seconds = 0;
  double decode_seconds = 0;        // steps after the first token
};

// Runs on `model` using `kv` for block bookkeeping; all blocks are returned when it finishes.
// An empty prompt, an out-of-vocab id, or a prompt + max_tokens beyond the KV pool is an
// kInvalidArgument error. `on_token` (optional) sees each token as it is sampled.
Result<GenerateResult> generate(ModelRunner& model, KvManager& kv, const std::vector<int32_t>& prompt,
                                const GenerateOptions& options,
                                const std::function<void(int32_t)>& on_token = nullptr);

}  // namespace llm
