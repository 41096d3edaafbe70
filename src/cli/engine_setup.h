// Opening a model as an inline engine (weights, tokenizer, KV pool, runner on every rank): what
// `llama serve` and `llama chat` share.
#pragma once

#include <string>

#include "cli/memory_args.h"
#include "cli/parallel_args.h"
#include "stack/inline_provider.h"

namespace llm {

struct EngineSetupOptions {
  int64_t max_num_seqs = 64;
  // KV pool in tokens. 0: on one GPU, what fits in gpu_memory_utilization of it after the weights
  // and the largest step (at most max_num_seqs full contexts); elsewhere
  // max(context length, max_num_seqs x min(context length, 2048)).
  int64_t kv_tokens = 0;
  int64_t kv_block_size = 16;
  int64_t max_step_tokens = 512;  // the scheduler's token budget: the largest step
  MemoryArgs memory;
};

// Loads `model_path` (any checkpoint format) with its tokenizer (absent: only token-id prompts
// work, with a warning) and makes the runner `parallel` asks for.
Result<stack::InlineEngineParts> open_inline_engine(const std::string& model_path, const ParallelArgs& parallel,
                                                     const EngineSetupOptions& options);

// The same for a model already in memory (e.g. a synthetic one); `tokenizer` may be null.
Result<stack::InlineEngineParts> open_inline_engine(std::unique_ptr<LoadedModel> model,
                                                     std::unique_ptr<Tokenizer> tokenizer, const ParallelArgs& parallel,
                                                     const EngineSetupOptions& options);

}  // namespace llm
