#include "model/gguf_model.h"

#include <cmath>
#include <cstring>

#include "formats/gguf/gguf.h"
#include "formats/ollama/ollama_store.h"
#include "model/rope.h"
#include "util/str.h"

namespace llm {
namespace {

Error invalid(const std::string& what) { return make_error(ErrorCode::kInvalidFormat, what); }

// An optional key: `fallback` when absent, an error when present with the wrong type.
template <class T, class Getter>
Result<T> optional_key(const GgufMetadata& metadata, const char* key, T fallback, Getter getter) {
  if (!metadata.has(key)) return fallback;
  return (metadata.*getter)(key);
}

Result<LlamaConfig> gguf_llama_config(const GgufFile& file, const std::string& path) {
  const GgufMetadata& m = file.metadata;
  Result<std::string> architecture = m.get_string("general.architecture");
  if (!architecture) return architecture.error();
  if (*architecture != "llama") {
    return make_error(ErrorCode::kUnsupported,
                      str(path, ": general.architecture \"", *architecture, "\" is not supported (expected \"llama\")"));
  }
  LlamaConfig c;
  Result<uint32_t> dim = m.get_u32("llama.embedding_length");
  Result<uint32_t> layers = m.get_u32("llama.block_count");
  Result<uint32_t> heads = m.get_u32("llama.attention.head_count");
  Result<uint32_t> ffn = m.get_u32("llama.feed_forward_length");
  for (const auto* r : {&dim, &layers, &heads, &ffn}) {
    if (!*r) return make_error(r->error().code, str(path, ": ", r->error().message));
  }
  c.dim = *dim;
  c.n_layers = *layers;
  c.n_heads = *heads;
  c.ffn_dim = *ffn;
  if (c.n_heads == 0) return invalid(str(path, ": llama.attention.head_count is 0"));
  Result<uint32_t> kv_heads = optional_key<uint32_t>(m, "llama.attention.head_count_kv", *heads, &GgufMetadata::get_u32);
  Result<uint32_t> head_dim =
      optional_key<uint32_t>(m, "llama.attention.key_length", static_cast<uint32_t>(c.dim / c.n_heads),
                             &GgufMetadata::get_u32);
  Result<float> eps = optional_key<float>(m, "llama.attention.layer_norm_rms_epsilon", 1e-5f, &GgufMetadata::get_f32);
  Result<float> theta = optional_key<float>(m, "llama.rope.freq_base", 10000.0f, &GgufMetadata::get_f32);
  Result<uint32_t> context = optional_key<uint32_t>(m, "llama.context_length", 4096, &GgufMetadata::get_u32);
  for (const auto* r : {&kv_heads, &head_dim, &context}) {
    if (!*r) return make_error(r->error().code, str(path, ": ", r->error().message));
  }
  if (!eps) return make_error(eps.error().code, str(path, ": ", eps.error().message));
  if (!theta) return make_error(theta.error().code, str(path, ": ", theta.error().message));
  c.n_kv_heads = *kv_heads;
  c.head_dim = *head_dim;
  c.norm_eps = *eps;
  c.rope_theta = *theta;
  c.max_position = *context;
  if (m.has("llama.rope.dimension_count")) {
    Result<uint32_t> rotary = m.get_u32("llama.rope.dimension_count");
    if (!rotary) return rotary.error();
    if (*rotary != c.head_dim) {
      return make_error(ErrorCode::kUnsupported, str(path, ": llama.rope.dimension_count ", *rotary,
                                                     " != head_dim ", c.head_dim, " (partial rotary is not supported)"));
    }
  }
  if (m.has("llama.rope.scaling.type")) {
    Result<std::string> type = m.get_string("llama.rope.scaling.type");
    if (!type) return type.error();
    if (*type == "linear") {
      Result<float> factor = m.get_f32("llama.rope.scaling.factor");
      if (!factor) return factor.error();
      if (!(*factor > 0)) return invalid(str(path, ": llama.rope.scaling.factor ", *factor));
      c.rope_scaling = RopeScaling{.type = RopeScalingType::kLinear, .factor = *factor};
    } else if (*type != "none") {
      return make_error(ErrorCode::kUnsupported,
                        str(path, ": llama.rope.scaling.type \"", *type, "\" is not supported (none, linear)"));
    }
  }
  const TensorEntry* embedding = file.tensors.find("token_embd.weight");
  if (embedding == nullptr) return invalid(str("token_embd.weight: missing from ", path));
  if (embedding->shape.rank() != 2) return invalid(str("token_embd.weight: expected 2 dims, got ", embedding->shape));
  c.vocab_size = embedding->shape[0];
  if (m.has("llama.vocab_size")) {
    Result<uint32_t> vocab = m.get_u32("llama.vocab_size");
    if (!vocab) return vocab.error();
    if (*vocab != c.vocab_size) {
      return invalid(str(path, ": llama.vocab_size ", *vocab, " != token_embd.weight rows ", c.vocab_size));
    }
  }
  c.tied_embeddings = file.tensors.find("output.weight") == nullptr;
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
    if (!m.has(key)) continue;
    Result<uint32_t> id = m.get_u32(key);
    if (!id) return id.error();
    c.eos_token_ids.push_back(static_cast<int32_t>(*id));
  }
  if (m.has("tokenizer.ggml.bos_token_id")) {
    Result<uint32_t> id = m.get_u32("tokenizer.ggml.bos_token_id");
    if (!id) return id.error();
    c.bos_token_id = static_cast<int32_t>(*id);
  }
  Status valid = c.validate(path);
  if (!valid) return valid.error();
  return c;
}

}  // namespace

Result<std::unique_ptr<LoadedModel>> load_gguf_model(const std::string& path) {
  Result<GgufFile> file = read_gguf(path);
  if (!file) return file.error();
  auto shared = std::make_shared<GgufFile>(std::move(*file));
  Result<LlamaConfig> config = gguf_llama_config(*shared, path);
  if (!config) return config.error();
  auto model = std::make_unique<LoadedModel>();
  model->files_path = path;
  model->format = CheckpointFormat::kGguf;
  model->config = *config;
  model->rope_layout = RopeLayout::kInterleaved;  // llama.cpp's converter un-permutes HF Q/K
  TensorLookup lookup = [&](const std::string& name) -> std::optional<NamedTensor> {
    const TensorEntry* entry = shared->tensors.find(name);
    if (entry == nullptr) return std::nullopt;
    return whole_tensor(entry->dtype, entry->shape, entry->bytes.data());
  };
  Result<LlamaWeightSources> sources = bind_llama_weights(lookup, model->format, model->config);
  if (!sources) return sources.error();
  model->sources = std::move(*sources);
  // Llama 3.1+ GGUFs carry the llama3 rope scaling as per-frequency divisors.
  if (const TensorEntry* factors = shared->tensors.find("rope_freqs.weight")) {
    if (factors->dtype != DType::kF32 || factors->shape != Shape{model->config.head_dim / 2}) {
      return invalid(str("rope_freqs.weight: expected f32 [", model->config.head_dim / 2, "], got ",
                         dtype_name(factors->dtype), " ", factors->shape));
    }
    std::vector<float> divisors(static_cast<size_t>(model->config.head_dim / 2));
    std::memcpy(divisors.data(), factors->bytes.data(), divisors.size() * sizeof(float));
    for (float d : divisors) {
      if (!(d > 0) || !std::isfinite(d)) return invalid(str("rope_freqs.weight: factor ", d, " is not positive"));
    }
    model->rope_inverse_frequencies = rope_inverse_frequencies_with_factors(model->config, divisors);
  } else {
    model->rope_inverse_frequencies = rope_inverse_frequencies(model->config);
  }
  model->storage.push_back(shared);
  return model;
}

Result<std::unique_ptr<LoadedModel>> load_ollama_model(const std::string& reference, const std::string& models_dir) {
  OllamaStoreOptions options = ollama_store_options_from_environment();
  if (!models_dir.empty()) options.root = models_dir;
  Result<OllamaModel> resolved = resolve_ollama_model(reference, options);
  if (!resolved) return resolved.error();
  return load_gguf_model(resolved->model_path);
}

}  // namespace llm
