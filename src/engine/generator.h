// Single-request generation (the `llama run` path): one request through the Scheduler, stepped
// on the calling thread — the same code path as the server, with the whole KV pool to itself.
#pragma once

#include <functional>
#include <vector>

#include "engine/request.h"
#include "kv/block_pool.h"
#include "model/model_runner.h"

namespace llm {

struct GenerateOptions {
  int32_t max_tokens = 32;
  SamplingParams sampling;
  std::vector<int32_t> stop_tokens;  // end generation (kept in the output), in addition to EOS
  bool ignore_eos = false;
  int32_t prefill_chunk = 512;       // prompt tokens per forward step
  bool keep_logits = false;          // return the logits of every sampled step (tests, --json)
};

struct GenerateResult {
  std::vector<int32_t> tokens;      // generated ids (a final EOS/stop token included)
  std::vector<float> step_logits;   // [tokens.size(), vocab] when keep_logits
  FinishReason finish_reason = FinishReason::kLength;
  double prefill_seconds = 0;       // until the first token
  double decode_seconds = 0;        // after it
};

// An empty prompt, an out-of-vocab id, or a prompt + max_tokens beyond the context or the KV
// pool is a kInvalidArgument error. Every block is returned to `kv` when it finishes.
// `on_token` (optional) sees each token as it is sampled.
Result<GenerateResult> generate(ModelRunner& model, KvManager& kv, const std::vector<int32_t>& prompt,
                                const GenerateOptions& options,
                                const std::function<void(int32_t)>& on_token = nullptr);

}  // namespace llm
