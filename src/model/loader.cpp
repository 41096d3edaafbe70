#include "model/loader.h"

#include <cstdlib>
#include <filesystem>

#include "formats/safetensors/safetensors.h"
#include "model/gguf_model.h"
#include "model/meta_checkpoint.h"
#include "model/rope.h"
#include "util/json.h"
#include "util/log.h"
#include "util/mapped_file.h"
#include "util/str.h"

namespace llm {
namespace {

namespace fs = std::filesystem;

Result<std::unique_ptr<LoadedModel>> load_hf(const std::string& dir) {
  std::string config_path = (fs::path(dir) / "config.json").string();
  Result<std::string> text = read_text_file(config_path, 1 << 20);
  if (!text) return text.error();
  Result<Json> json = parse_json(*text, config_path);
  if (!json) return json.error();
  Result<LlamaConfig> config = parse_hf_config(*json, config_path);
  if (!config) return config.error();
  std::string generation_path = (fs::path(dir) / "generation_config.json").string();
  if (fs::exists(generation_path)) {
    Result<std::string> generation_text = read_text_file(generation_path, 1 << 20);
    if (!generation_text) return generation_text.error();
    Result<Json> generation = parse_json(*generation_text, generation_path);
    if (!generation) return generation.error();
    Status merged = merge_generation_config(*generation, generation_path, *config);
    if (!merged) return merged.error();
  }
  Result<TensorSource> source = read_safetensors_dir(dir);
  if (!source) return source.error();
  auto shared = std::make_shared<TensorSource>(std::move(*source));
  auto model = std::make_unique<LoadedModel>();
  model->format = CheckpointFormat::kHuggingFace;
  model->config = *config;
  model->rope_layout = RopeLayout::kHalfSplit;
  TensorLookup lookup = [&](const std::string& name) -> std::optional<NamedTensor> {
    const TensorEntry* entry = shared->find(name);
    if (entry == nullptr) return std::nullopt;
    return whole_tensor(entry->dtype, entry->shape, entry->bytes.data());
  };
  Result<LlamaWeightSources> sources = bind_llama_weights(lookup, model->format, model->config);
  if (!sources) return sources.error();
  model->sources = std::move(*sources);
  model->rope_inverse_frequencies = rope_inverse_frequencies(model->config);
  model->storage.push_back(shared);
  return model;
}

Result<std::unique_ptr<LoadedModel>> load_meta(const std::string& dir) {
  Result<std::unique_ptr<MetaCheckpoint>> checkpoint = load_meta_checkpoint(dir);
  if (!checkpoint) return checkpoint.error();
  std::shared_ptr<MetaCheckpoint> shared = std::move(*checkpoint);
  auto model = std::make_unique<LoadedModel>();
  model->format = CheckpointFormat::kMeta;
  model->config = shared->config;
  model->rope_layout = RopeLayout::kInterleaved;
  TensorLookup lookup = [&](const std::string& name) -> std::optional<NamedTensor> {
    auto it = shared->tensors.find(name);
    if (it == shared->tensors.end()) return std::nullopt;
    return it->second;
  };
  Result<LlamaWeightSources> sources = bind_llama_weights(lookup, model->format, model->config);
  if (!sources) return sources.error();
  model->sources = std::move(*sources);
  model->rope_inverse_frequencies = rope_inverse_frequencies(model->config);
  model->storage.push_back(shared);
  return model;
}

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

Result<std::unique_ptr<LoadedModel>> load_model(const std::string& reference, const LoadOptions& options) {
  Result<std::unique_ptr<LoadedModel>> model = make_error(ErrorCode::kInternal, "unreachable");
  std::error_code ec;
  if (starts_with(reference, "ollama://") || starts_with(reference, "ollama:")) {
    model = load_ollama_model(reference, options.ollama_models_dir);
  } else if (fs::is_directory(reference, ec)) {
    if (fs::exists(fs::path(reference) / "config.json") &&
        (fs::exists(fs::path(reference) / "model.safetensors") ||
         fs::exists(fs::path(reference) / "model.safetensors.index.json") ||
         !fs::exists(fs::path(reference) / "params.json"))) {
      model = load_hf(reference);
    } else if (fs::exists(fs::path(reference) / "params.json")) {
      model = load_meta(reference);
    } else {
      return make_error(ErrorCode::kNotFound,
                        str(reference, ": not a model directory (expected config.json + *.safetensors, or "
                                       "params.json + consolidated.NN.pth)"));
    }
  } else if (fs::is_regular_file(reference, ec)) {
    model = load_gguf_model(reference);
  } else {
    return make_error(ErrorCode::kNotFound,
                      str(reference, ": no such file or directory (a model is a directory, a .gguf file or "
                                     "ollama://NAME:TAG)"));
  }
  if (!model) return model.error();
  (*model)->path = reference;
  if ((*model)->files_path.empty()) (*model)->files_path = reference;
  log_info("loaded ", reference, " (", checkpoint_format_name((*model)->format), "): ", (*model)->config.summary());
  return model;
}

}  // namespace llm
