#include "model/synthetic.h"

#include <cmath>

#include "model/rope.h"
#include "util/str.h"

namespace llm {
namespace {

struct Shape8 {
  const char* name;
  int64_t dim, n_layers, n_heads, n_kv_heads, ffn_dim, vocab;
  double rope_theta, llama3_factor;  // factor 0: no scaling
  bool tied;
};

// Published shapes (shared/reference/llama-stack.md 3.1); llama-100m is our CPU baseline shape.
constexpr Shape8 kShapes[] = {
    {"llama-100m", 768, 12, 12, 4, 2048, 16384, 500000.0, 0.0, false},
    {"llama3.2-1b", 2048, 16, 32, 8, 8192, 128256, 500000.0, 32.0, true},
    {"llama3.2-3b", 3072, 28, 24, 8, 8192, 128256, 500000.0, 32.0, true},
    {"llama3.1-8b", 4096, 32, 32, 8, 14336, 128256, 500000.0, 8.0, false},
    {"llama3.1-70b", 8192, 80, 64, 8, 28672, 128256, 500000.0, 8.0, false},
};

}  // namespace

std::vector<std::string> synthetic_model_names() {
  std::vector<std::string> names;
  for (const Shape8& shape : kShapes) names.emplace_back(shape.name);
  return names;
}

Result<LlamaConfig> synthetic_config(const std::string& name) {
  for (const Shape8& s : kShapes) {
    if (name != s.name) continue;
    LlamaConfig c;
    c.dim = s.dim;
    c.n_layers = s.n_layers;
    c.n_heads = s.n_heads;
    c.n_kv_heads = s.n_kv_heads;
    c.head_dim = s.dim / s.n_heads;
    c.ffn_dim = s.ffn_dim;
    c.vocab_size = s.vocab;
    c.rope_theta = s.rope_theta;
    c.max_position = 131072;
    c.tied_embeddings = s.tied;
    if (s.llama3_factor > 0) {
      c.rope_scaling = RopeScaling{.type = RopeScalingType::kLlama3, .factor = s.llama3_factor};
    }
    return c;
  }
  std::string known;
  for (const Shape8& s : kShapes) known += str(known.empty() ? "" : ", ", s.name);
  return make_error(ErrorCode::kInvalidArgument, str("unknown synthetic model \"", name, "\" (known: ", known, ")"));
}

Result<std::unique_ptr<LoadedModel>> make_synthetic_model(const LlamaConfig& config, const SyntheticOptions& options) {
  if (options.dtype != DType::kF32 && options.dtype != DType::kF16 && options.dtype != DType::kBF16) {
    return make_error(ErrorCode::kUnsupported,
                      str("synthetic weights in ", dtype_name(options.dtype), " (use f32, f16 or bf16)"));
  }
  // Each tensor takes the next numel values of one splitmix64 stream, as if drawn in order.
  uint64_t state = options.seed;
  auto make = [&](WeightRole role, bool norm) -> WeightSource {
    Shape shape = expected_weight_shape(role, config);
    const float scale = norm ? 1.0f : static_cast<float>(1.0 / std::sqrt(static_cast<double>(shape[shape.rank() - 1])));
    WeightSource source{.name = str("synthetic ", weight_name(role, CheckpointFormat::kHuggingFace, 0)),
                        .dtype = norm ? DType::kF32 : options.dtype,
                        .shape = shape,
                        .synthetic = SyntheticFill{.state = state, .scale = scale, .ones = norm}};
    state += static_cast<uint64_t>(shape.numel()) * kSplitMixIncrement;
    return source;
  };
  auto model = std::make_unique<LoadedModel>();
  model->path = "synthetic";
  model->format = CheckpointFormat::kHuggingFace;
  model->config = config;
  model->rope_layout = RopeLayout::kHalfSplit;
  LlamaWeightSources& w = model->sources;
  w.token_embedding = make(WeightRole::kTokenEmbedding, false);
  w.layers.resize(static_cast<size_t>(config.n_layers));
  for (LayerTensors<WeightSource>& layer : w.layers) {
    layer.attention_norm = make(WeightRole::kAttentionNorm, true);
    layer.wq = make(WeightRole::kWq, false);
    layer.wk = make(WeightRole::kWk, false);
    layer.wv = make(WeightRole::kWv, false);
    layer.wo = make(WeightRole::kWo, false);
    layer.ffn_norm = make(WeightRole::kFfnNorm, true);
    layer.w1 = make(WeightRole::kW1, false);
    layer.w3 = make(WeightRole::kW3, false);
    layer.w2 = make(WeightRole::kW2, false);
  }
  w.output_norm = make(WeightRole::kOutputNorm, true);
  w.output = config.tied_embeddings ? w.token_embedding : make(WeightRole::kOutput, false);
  model->rope_inverse_frequencies = rope_inverse_frequencies(config);
  return model;
}

}  // namespace llm
