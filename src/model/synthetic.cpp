#include "model/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

#include "core/half.h"
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

// splitmix64: fast, deterministic, good enough for benchmark weights.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// splitmix64 is a counter: value i of a stream that starts at `state` is mix(state + (i + 1) x
// the increment), so the elements can be made in any order, on many threads, with the same bits.
constexpr uint64_t kIncrement = 0x9e3779b97f4a7c15ull;

void fill_range(std::byte* out, DType dtype, int64_t begin, int64_t end, float scale, bool ones, uint64_t state) {
  for (int64_t i = begin; i < end; ++i) {
    uint64_t counter = state + static_cast<uint64_t>(i) * kIncrement;
    // Uniform in [-scale*sqrt(3), scale*sqrt(3)]: variance scale^2.
    float u = static_cast<float>(static_cast<double>(next_random(counter) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    float value = ones ? 1.0f : u * scale * 1.7320508f;
    switch (dtype) {
      case DType::kF32: std::memcpy(out + i * 4, &value, 4); break;
      case DType::kF16: {
        uint16_t h = float_to_f16(value);
        std::memcpy(out + i * 2, &h, 2);
        break;
      }
      case DType::kBF16: {
        uint16_t h = float_to_bf16(value);
        std::memcpy(out + i * 2, &h, 2);
        break;
      }
      case DType::kI32:
      case DType::kQ8_0:
      case DType::kQ4_0:
      case DType::kQ4_K:
      case DType::kQ6_K: break;  // rejected by make_synthetic_model
    }
  }
}

// Fills n elements on every hardware thread (an 8B model is 8 billion values); advances `state`
// past them, as n sequential draws would.
void fill(std::vector<std::byte>& out, DType dtype, int64_t n, float scale, bool ones, uint64_t& state) {
  out.resize(static_cast<size_t>(n) * (dtype == DType::kF32 ? 4 : 2));
  const int64_t n_threads = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 64);
  const int64_t per_thread = std::max<int64_t>(1 << 20, (n + n_threads - 1) / n_threads);
  std::vector<std::thread> threads;
  for (int64_t begin = per_thread; begin < n; begin += per_thread) {
    threads.emplace_back(fill_range, out.data(), dtype, begin, std::min(n, begin + per_thread), scale, ones, state);
  }
  fill_range(out.data(), dtype, 0, std::min(n, per_thread), scale, ones, state);
  for (std::thread& thread : threads) thread.join();
  state += static_cast<uint64_t>(n) * kIncrement;
}

struct SyntheticStorage {
  std::vector<std::vector<std::byte>> tensors;
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
  auto storage = std::make_shared<SyntheticStorage>();
  storage->tensors.reserve(static_cast<size_t>(config.n_layers * 9 + 3));
  uint64_t state = options.seed;
  auto make = [&](WeightRole role, bool norm) -> WeightSource {
    Shape shape = expected_weight_shape(role, config);
    storage->tensors.emplace_back();
    float scale = norm ? 1.0f : static_cast<float>(1.0 / std::sqrt(static_cast<double>(shape[shape.rank() - 1])));
    fill(storage->tensors.back(), norm ? DType::kF32 : options.dtype, shape.numel(), scale, norm, state);
    DType dtype = norm ? DType::kF32 : options.dtype;
    return WeightSource{.name = str("synthetic ", weight_name(role, CheckpointFormat::kHuggingFace, 0)),
                        .dtype = dtype,
                        .shape = shape,
                        .parts = {TensorView{storage->tensors.back().data(), dtype, shape}}};
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
  model->storage.push_back(storage);
  return model;
}

}  // namespace llm
