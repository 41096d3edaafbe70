#include "cli/engine_setup.h"

#include <algorithm>
#include <limits>

#include "model/loader.h"
#include "tokenizer/tokenizer.h"
#include "util/log.h"

namespace llm {

Result<stack::InlineEngineParts> open_inline_engine(const std::string& model_path, const ParallelArgs& parallel,
                                                     const EngineSetupOptions& options) {
  Result<std::unique_ptr<LoadedModel>> loaded = load_model(model_path, LoadOptions{});
  if (!loaded) return loaded.error();
  std::unique_ptr<Tokenizer> tokenizer;
  if (Result<std::unique_ptr<Tokenizer>> t = load_tokenizer((*loaded)->files_path)) {
    tokenizer = std::move(*t);
  } else {
    log_warning("no tokenizer for ", model_path, " (", t.error().message, "): only token-id prompts will work");
  }
  return open_inline_engine(std::move(*loaded), std::move(tokenizer), parallel, options);
}

Result<stack::InlineEngineParts> open_inline_engine(std::unique_ptr<LoadedModel> model,
                                                     std::unique_ptr<Tokenizer> tokenizer, const ParallelArgs& parallel,
                                                     const EngineSetupOptions& options) {
  const LlamaConfig& config = model->config;
  const int64_t block_size = options.kv_block_size;
  auto blocks = [&](int64_t tokens) { return (tokens + block_size - 1) / block_size; };
  KvCacheOptions kv_options{.block_size = static_cast<int32_t>(block_size), .dtype = options.memory.kv_dtype};
  if (options.kv_tokens > 0) kv_options.n_blocks = static_cast<int32_t>(blocks(options.kv_tokens));
  // Sized from free memory (one GPU): up to every sequence at full context. Fixed (CPU, several
  // ranks): one full context, or max_num_seqs contexts of up to 2,048 tokens.
  const bool one_gpu = parallel.device == "cuda" && parallel.layout.tensor_parallel == 1 &&
                       parallel.layout.pipeline_parallel == 1 && !parallel.processes;
  const int64_t wanted_tokens =
      one_gpu ? options.max_num_seqs * config.max_position
              : std::max<int64_t>(config.max_position, options.max_num_seqs * std::min<int64_t>(config.max_position, 2048));
  const int64_t max_blocks = std::numeric_limits<int32_t>::max() / 2;
  std::unique_ptr<Backend> backend;
  Result<ModelRunnerSetup> setup = create_model_runner(
      *model, parallel, kv_options,
      KvSizingOptions{.utilization = options.memory.gpu_memory_utilization,
                      .max_step_tokens = options.max_step_tokens,
                      .max_logit_rows = std::min(options.max_num_seqs, options.max_step_tokens),
                      .blocks_wanted = std::min(blocks(wanted_tokens), max_blocks),
                      // less than one sequence of the full context (8,192 tokens at most) is no use
                      .blocks_required = std::min(blocks(std::min<int64_t>(config.max_position, 8192)), max_blocks)},
      backend);
  if (!setup) return setup.error();
  if (!setup->kv_explanation.empty()) log_info(setup->kv_explanation);
  auto kv = std::make_unique<KvManager>(setup->kv_blocks, static_cast<int32_t>(block_size));
  std::unique_ptr<ModelRunner> runner = std::move(setup->runner);
  return stack::InlineEngineParts{.model = std::move(model),
                                  .backend = std::move(backend),
                                  .runner = std::move(runner),
                                  .kv = std::move(kv),
                                  .tokenizer = std::move(tokenizer)};
}

}  // namespace llm
