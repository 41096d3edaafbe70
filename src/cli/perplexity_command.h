// llama perplexity: the sliding-window perplexity of a model on a text file.
//
// The definition (tools/demo_model/reference_perplexity.py computes the same in PyTorch):
// ids = the tokenizer's encoding of the whole text with BOS first (where the tokenizer adds one),
// N = ids.size(). Windows begin at 0, stride, 2*stride, ... and end at min(begin + ctx, N); the last
// window is the first that reaches N. Each window is one forward pass over ids[begin, end) at
// positions 0 .. end-begin-1 (a fresh context) and scores the targets p in
// [max(previous window's end, begin + 1), end) with -log softmax(logits of p - 1)[ids[p]] in double.
// With stride < ctx every token after the first is scored exactly once; with stride == ctx the
// first token of each window has no context and is skipped. ppl = exp(sum of NLL / scored).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model/model_runner.h"
#include "util/result.h"

namespace llm {

int perplexity_command(const std::vector<std::string>& args);

struct PerplexityOptions {
  int32_t ctx = 512;     // tokens per window (one forward pass); at most the model's context length
  int32_t stride = 256;  // 1 <= stride <= ctx
  int32_t kv_block_size = 16;
  // Called after each window with the running totals (progress reports).
  std::function<void(int64_t windows_done, int64_t scored, double nll_sum)> on_window;
};

struct PerplexityResult {
  int64_t n_tokens = 0;       // ids.size()
  int64_t n_scored = 0;       // targets scored
  int64_t n_windows = 0;      // forward passes
  int64_t n_evaluated = 0;    // tokens run through the model, summed over windows
  double nll_sum = 0;         // natural log
  double seconds = 0;         // forward passes and scoring

  double mean_nll() const { return n_scored > 0 ? nll_sum / static_cast<double>(n_scored) : 0.0; }
  double perplexity() const;
};

// The windows of the definition above over n_tokens ids: [begin, end) and the first target scored.
struct PerplexityWindow {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t first_target = 0;  // targets are [first_target, end); empty when first_target >= end
};
Result<std::vector<PerplexityWindow>> perplexity_windows(int64_t n_tokens, int32_t ctx, int32_t stride);

// Runs the windows over `ids` on `model`, whose KV cache must hold at least one window
// (KvCacheOptions.n_blocks * block_size >= ctx, with the same block size as options).
Result<PerplexityResult> sliding_window_perplexity(ModelRunner& model, std::span<const int32_t> ids,
                                                   const PerplexityOptions& options);

}  // namespace llm
