#include "cli/engine_setup.h"

#include <algorithm>

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
  int64_t tokens = options.kv_tokens > 0
                       ? options.kv_tokens
                       : std::max<int64_t>(config.max_position,
                                           options.max_num_seqs * std::min<int64_t>(config.max_position, 2048));
  auto kv = std::make_unique<KvManager>(static_cast<int32_t>((tokens + options.kv_block_size - 1) / options.kv_block_size),
                                        static_cast<int32_t>(options.kv_block_size));
  std::unique_ptr<Backend> backend;
  Result<std::unique_ptr<ModelRunner>> runner = create_model_runner(
      *model, parallel, KvCacheOptions{.n_blocks = kv->pool().n_blocks(), .block_size = kv->block_size()}, backend);
  if (!runner) return runner.error();
  return stack::InlineEngineParts{.model = std::move(model),
                                  .backend = std::move(backend),
                                  .runner = std::move(*runner),
                                  .kv = std::move(kv),
                                  .tokenizer = std::move(tokenizer)};
}

}  // namespace llm
