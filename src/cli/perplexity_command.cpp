// llama perplexity [MODEL] --file TEXT [--ctx N] [--stride S] [--tokenizer PATH] [--device cpu|cuda]
//                  [--threads N] [--tp N] [--pp N] [--devices 0,1,...] [--json]
#include "cli/perplexity_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/memory_args.h"
#include "cli/parallel_args.h"
#include "model/llama/llama_model.h"
#include "model/loader.h"
#include "tokenizer/tokenizer.h"
#include "util/json.h"
#include "util/mapped_file.h"
#include "util/str.h"

namespace llm {
namespace {

const ArgSpec kPerplexitySpec{
    .options_with_value = {"--file", "--ctx", "--stride", "--tokenizer", "--device", "--threads", "--kv-block-size", "--kv-dtype",
                           "--tp", "--pp", "--devices", "--collective-timeout"},
    .flags = {"--json", "--help"},
};

const char* kPerplexityUsage =
    "usage: llama perplexity [MODEL] --file TEXT [--ctx N] [--stride S] [--tokenizer PATH]\n"
    "                        [--device cpu|cuda] [--threads N] [--json]\n"
    "                        [--tp N|auto] [--pp N] [--devices 0,1,...]\n"
    "Perplexity of MODEL on the text file: windows of --ctx tokens (default: 512, at most the model's\n"
    "context length) every --stride tokens (default ctx/2); each window scores only the tokens no\n"
    "earlier window scored. The tokenizer comes from MODEL's directory unless --tokenizer names one.\n"
    "Without MODEL the built-in default model is used.\n";

constexpr int32_t kDefaultContext = 512;

int fail(const Error& error) {
  std::fprintf(stderr, "llama perplexity: %s\n", error.to_string().c_str());
  return 1;
}

// -log softmax(row)[target], in double so that a 128k-entry vocabulary sums without loss.
double negative_log_likelihood(std::span<const float> row, int32_t target) {
  double max_logit = -INFINITY;
  for (float v : row) max_logit = std::max(max_logit, static_cast<double>(v));
  double sum = 0;
  for (float v : row) sum += std::exp(static_cast<double>(v) - max_logit);
  return max_logit + std::log(sum) - static_cast<double>(row[static_cast<size_t>(target)]);
}

}  // namespace

double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }

Result<std::vector<PerplexityWindow>> perplexity_windows(int64_t n_tokens, int32_t ctx, int32_t stride) {
  if (ctx < 2) return make_error(ErrorCode::kInvalidArgument, str("ctx ", ctx, ": expected at least 2"));
  if (stride < 1 || stride > ctx) {
    return make_error(ErrorCode::kInvalidArgument, str("stride ", stride, ": expected 1 <= stride <= ctx (", ctx, ")"));
  }
  if (n_tokens < 2) {
    return make_error(ErrorCode::kInvalidArgument, str("the text is ", n_tokens, " tokens: nothing to predict"));
  }
  std::vector<PerplexityWindow> windows;
  int64_t previous_end = 1;  // ids[0] (BOS, or the first token) is never a target
  for (int64_t begin = 0;; begin += stride) {
    int64_t end = std::min(begin + ctx, n_tokens);
    windows.push_back({.begin = begin, .end = end, .first_target = std::max(previous_end, begin + 1)});
    previous_end = end;
    if (end == n_tokens) return windows;
  }
}

Result<PerplexityResult> sliding_window_perplexity(ModelRunner& model, std::span<const int32_t> ids,
                                                   const PerplexityOptions& options) {
  const LlamaConfig& config = model.config();
  if (options.ctx > config.max_position) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("ctx ", options.ctx, " exceeds the model's context length ", config.max_position));
  }
  if (options.kv_block_size < 1) {
    return make_error(ErrorCode::kInvalidArgument, str("kv block size ", options.kv_block_size, ", expected >= 1"));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config.vocab_size) {
      return make_error(ErrorCode::kInvalidArgument,
                        str("token ", i, " is id ", ids[i], ", outside the model's vocabulary [0, ", config.vocab_size, ")"));
    }
  }
  Result<std::vector<PerplexityWindow>> windows =
      perplexity_windows(static_cast<int64_t>(ids.size()), options.ctx, options.stride);
  if (!windows) return windows.error();

  // Every window is a fresh sequence over the same blocks 0 .. n_blocks-1: slot of position i = i.
  const int32_t n_blocks = (options.ctx + options.kv_block_size - 1) / options.kv_block_size;
  ForwardBatch batch;
  batch.max_blocks_per_seq = n_blocks;
  for (int32_t b = 0; b < n_blocks; ++b) batch.block_tables.push_back(b);

  PerplexityResult result;
  result.n_tokens = static_cast<int64_t>(ids.size());
  std::vector<float> logits;  // [rows scored, vocab]
  const auto start = std::chrono::steady_clock::now();
  for (const PerplexityWindow& window : *windows) {
    if (window.first_target >= window.end) continue;
    const auto length = static_cast<int32_t>(window.end - window.begin);
    batch.tokens.assign(ids.begin() + window.begin, ids.begin() + window.end);
    batch.positions.resize(length);
    batch.slots.resize(length);
    for (int32_t i = 0; i < length; ++i) batch.positions[i] = batch.slots[i] = i;
    batch.query_start = {0, length};
    // The logits of row r predict ids[begin + r + 1].
    batch.logit_rows.clear();
    for (int64_t target = window.first_target; target < window.end; ++target) {
      batch.logit_rows.push_back(static_cast<int32_t>(target - 1 - window.begin));
    }
    Status status = model.forward(batch, logits);
    if (!status) return status.error();
    const auto vocab = static_cast<size_t>(config.vocab_size);
    if (logits.size() != batch.logit_rows.size() * vocab) {
      return make_error(ErrorCode::kInternal, str("forward returned ", logits.size(), " logits, expected ",
                                                  batch.logit_rows.size(), " rows x ", vocab));
    }
    for (size_t r = 0; r < batch.logit_rows.size(); ++r) {
      const int32_t target = ids[static_cast<size_t>(window.begin + batch.logit_rows[r] + 1)];
      result.nll_sum += negative_log_likelihood(std::span<const float>(logits).subspan(r * vocab, vocab), target);
    }
    result.n_scored += static_cast<int64_t>(batch.logit_rows.size());
    result.n_evaluated += length;
    ++result.n_windows;
    if (options.on_window) options.on_window(result.n_windows, result.n_scored, result.nll_sum);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

int perplexity_command(const std::vector<std::string>& argv) {
  Result<Args> parsed = Args::parse(argv, kPerplexitySpec);
  if (!parsed) {
    std::fprintf(stderr, "llama perplexity: %s\n%s", parsed.error().message.c_str(), kPerplexityUsage);
    return 2;
  }
  const Args& args = *parsed;
  if (args.flag("--help")) {
    std::fputs(kPerplexityUsage, stdout);
    return 0;
  }
  if (args.positional().size() > 1) {
    std::fprintf(stderr, "llama perplexity: one MODEL expected, got %zu arguments\n%s", args.positional().size(),
                 kPerplexityUsage);
    return 2;
  }
  std::optional<std::string> file = args.value("--file");
  if (!file) {
    std::fprintf(stderr, "llama perplexity: --file TEXT is required\n%s", kPerplexityUsage);
    return 2;
  }
  const std::string model_path = args.positional().empty() ? default_model_path() : args.positional()[0];
  Result<int64_t> threads = args.integer("--threads", 0, 0, 4096);
  Result<int64_t> block_size = args.integer("--kv-block-size", 16, 1, 1 << 16);
  for (const auto* r : {&threads, &block_size}) {
    if (!*r) return fail(r->error());
  }
  Result<ParallelArgs> parallel =
      parse_parallel_args(args, args.value("--device").value_or("cpu"), static_cast<int>(*threads));
  if (!parallel) return fail(parallel.error());

  Result<std::string> text = read_text_file(*file, kTokenizerMaxTextBytes);
  if (!text) return fail(text.error());
  Result<std::unique_ptr<Tokenizer>> tokenizer = load_tokenizer(args.value("--tokenizer").value_or(model_path));
  if (!tokenizer) return fail(tokenizer.error());
  Result<std::vector<int32_t>> ids = (*tokenizer)->encode(*text, EncodeOptions{.add_bos = true});
  if (!ids) return fail(ids.error());

  Result<std::unique_ptr<LoadedModel>> loaded = load_model(model_path, LoadOptions{});
  if (!loaded) return fail(loaded.error());
  const LlamaConfig& config = (*loaded)->config;
  const auto default_ctx = static_cast<int32_t>(std::min<int64_t>(kDefaultContext, config.max_position));
  Result<int64_t> ctx = args.integer("--ctx", default_ctx, 2, config.max_position);
  if (!ctx) return fail(ctx.error());
  Result<int64_t> stride = args.integer("--stride", std::max<int64_t>(1, *ctx / 2), 1, *ctx);
  if (!stride) return fail(stride.error());
  PerplexityOptions options{.ctx = static_cast<int32_t>(*ctx),
                            .stride = static_cast<int32_t>(*stride),
                            .kv_block_size = static_cast<int32_t>(*block_size)};

  std::unique_ptr<Backend> backend;  // the single-device case's; parallel ranks own theirs
  const int32_t n_blocks = (options.ctx + options.kv_block_size - 1) / options.kv_block_size;
  Result<MemoryArgs> memory = parse_memory_args(args, parallel->device);
  if (!memory) return fail(memory.error());
  Result<ModelRunnerSetup> setup = create_model_runner(
      **loaded, *parallel,
      KvCacheOptions{.n_blocks = n_blocks, .block_size = options.kv_block_size, .dtype = memory->kv_dtype},
      KvSizingOptions{}, backend);
  if (!setup) return fail(setup.error());
  ModelRunner* model = setup->runner.get();

  const bool json = args.flag("--json");
  Result<std::vector<PerplexityWindow>> planned = perplexity_windows(static_cast<int64_t>(ids->size()), options.ctx,
                                                                     options.stride);
  if (!planned) return fail(planned.error());
  const auto n_windows = static_cast<int64_t>(planned->size());
  if (!json) {
    options.on_window = [&](int64_t done, int64_t scored, double nll_sum) {
      std::fprintf(stderr, "\r[%lld/%lld] perplexity so far %.4f", static_cast<long long>(done),
                   static_cast<long long>(n_windows), std::exp(nll_sum / static_cast<double>(scored)));
      if (done == n_windows) std::fprintf(stderr, "\n");
    };
  }
  Result<PerplexityResult> result = sliding_window_perplexity(*model, *ids, options);
  if (!result) return fail(result.error());
  const double evaluated_tps = result->seconds > 0 ? static_cast<double>(result->n_evaluated) / result->seconds : 0;
  const double scored_tps = result->seconds > 0 ? static_cast<double>(result->n_scored) / result->seconds : 0;
  if (json) {
    Json out = {
        {"model", model_path},
        {"file", *file},
        {"ctx", options.ctx},
        {"stride", options.stride},
        {"n_tokens", result->n_tokens},
        {"n_scored", result->n_scored},
        {"n_windows", result->n_windows},
        {"nll_sum", result->nll_sum},
        {"mean_nll", result->mean_nll()},
        {"perplexity", result->perplexity()},
        {"seconds", result->seconds},
        {"tokens_per_second", evaluated_tps},
        {"scored_tokens_per_second", scored_tps},
        {"device", parallel->device},
    };
    std::cout << out.dump() << "\n";
  } else {
    std::printf("perplexity %.4f (mean NLL %.6f) over %lld scored tokens of %lld; ctx %d, stride %d, %lld windows\n",
                result->perplexity(), result->mean_nll(), static_cast<long long>(result->n_scored),
                static_cast<long long>(result->n_tokens), options.ctx, options.stride,
                static_cast<long long>(result->n_windows));
    std::printf("%.1f tokens/s through the model (%.1f scored tokens/s), %.2f s\n", evaluated_tps, scored_tps,
                result->seconds);
  }
  return 0;
}

}  // namespace llm
