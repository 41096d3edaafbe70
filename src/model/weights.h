// Weight roles: one table maps each role of the Llama architecture to its tensor name in every
// checkpoint format, its expected shape and how tensor parallelism splits it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend/synthetic_fill.h"
#include "core/tensor.h"
#include "model/config.h"

namespace llm {

enum class CheckpointFormat { kHuggingFace, kMeta, kGguf };

const char* checkpoint_format_name(CheckpointFormat format);

enum class WeightRole {
  kTokenEmbedding,
  kAttentionNorm,
  kWq,
  kWk,
  kWv,
  kWo,
  kFfnNorm,
  kW1,  // gate projection
  kW3,  // up projection
  kW2,  // down projection
  kOutputNorm,
  kOutput,
};

// How a role is split across tensor-parallel ranks (and how Meta MP shards were split).
enum class ShardRule {
  kColumn,      // output features (dim 0) split
  kRow,         // input features (dim 1) split; followed by an all-reduce
  kReplicated,  // every rank holds all of it
};

struct WeightRoleInfo {
  WeightRole role;
  bool per_layer;
  ShardRule shard_rule;
};

const std::vector<WeightRoleInfo>& llama_weight_roles();

// The tensor name of `role` (of `layer` for per-layer roles) in `format`.
std::string weight_name(WeightRole role, CheckpointFormat format, int64_t layer);

// The shape the role must have under `config`, outermost dim first.
Shape expected_weight_shape(WeightRole role, const LlamaConfig& config);

// The tensors of a Llama model, one slot per role. T is TensorView for weights ready to run (one
// rank's shard, in host or device memory) and WeightSource for what a checkpoint holds.
template <class T>
struct LayerTensors {
  T attention_norm;  // [dim]
  T wq;              // [n_heads * head_dim, dim]        (a rank: its heads' rows)
  T wk;              // [n_kv_heads * head_dim, dim]     (a rank: its kv heads' rows)
  T wv;              // [n_kv_heads * head_dim, dim]
  T wo;              // [dim, n_heads * head_dim]        (a rank: its heads' columns)
  T ffn_norm;        // [dim]
  T w1;              // [ffn_dim, dim]  gate            (a rank: its ffn rows)
  T w3;              // [ffn_dim, dim]  up
  T w2;              // [dim, ffn_dim]  down            (a rank: its ffn columns)
};

template <class T>
struct LlamaTensors {
  T token_embedding;  // [vocab, dim]                   (a rank: its vocab rows)
  std::vector<LayerTensors<T>> layers;
  T output_norm;      // [dim]
  T output;           // [vocab, dim]; the embedding itself when tied (a rank: its vocab rows)
};

// Calls fn(role, layer, slot) for every slot (layer -1 for the whole-model roles). The tied
// output is visited too: callers that copy check `tied` themselves. Given several structures of
// one layout, fn(role, layer, slot of each) visits the same slot of all of them together.
template <class Fn, class T, class... More>
void for_each_weight(Fn&& fn, LlamaTensors<T>& tensors, LlamaTensors<More>&... more) {
  fn(WeightRole::kTokenEmbedding, int64_t{-1}, tensors.token_embedding, more.token_embedding...);
  for (size_t i = 0; i < tensors.layers.size(); ++i) {
    const auto layer = static_cast<int64_t>(i);
    LayerTensors<T>& l = tensors.layers[i];
    fn(WeightRole::kAttentionNorm, layer, l.attention_norm, more.layers[i].attention_norm...);
    fn(WeightRole::kWq, layer, l.wq, more.layers[i].wq...);
    fn(WeightRole::kWk, layer, l.wk, more.layers[i].wk...);
    fn(WeightRole::kWv, layer, l.wv, more.layers[i].wv...);
    fn(WeightRole::kWo, layer, l.wo, more.layers[i].wo...);
    fn(WeightRole::kFfnNorm, layer, l.ffn_norm, more.layers[i].ffn_norm...);
    fn(WeightRole::kW1, layer, l.w1, more.layers[i].w1...);
    fn(WeightRole::kW3, layer, l.w3, more.layers[i].w3...);
    fn(WeightRole::kW2, layer, l.w2, more.layers[i].w2...);
  }
  fn(WeightRole::kOutputNorm, int64_t{-1}, tensors.output_norm, more.output_norm...);
  fn(WeightRole::kOutput, int64_t{-1}, tensors.output, more.output...);
}

using LayerWeights = LayerTensors<TensorView>;
using LlamaWeights = LlamaTensors<TensorView>;

// One role's tensor as the checkpoint stores it: one part (HF, GGUF, Meta MP=1), or the Meta
// MP shards' parts, which tile the tensor along split_dim in shard order. Parts are host views
// into mapped files: nothing is read until a rank's shard touches the bytes it needs.
struct WeightSource {
  std::string name;                // the checkpoint's own name, for messages
  DType dtype = DType::kF32;
  Shape shape;                     // the whole tensor
  int split_dim = 0;               // 0 or 1
  // Along split_dim the parts may hold more than shape (whole extra copies of replicated kv
  // heads, as llama-models saves them when MP > n_kv_heads); only [0, shape[split_dim]) is used.
  std::vector<TensorView> parts;
  // A synthetic model's weight has no parts: each device makes its slice (row0, col0 and
  // columns unset here; the shard sets them).
  std::optional<SyntheticFill> synthetic;
};

using LlamaWeightSources = LlamaTensors<WeightSource>;

// Looks up a tensor by name: nullopt when absent.
struct NamedTensor {
  DType dtype;
  Shape shape;  // of the whole tensor
  std::vector<TensorView> parts;  // see WeightSource
  int split_dim = 0;
};
using TensorLookup = std::function<std::optional<NamedTensor>(const std::string& name)>;

// A tensor held whole in one place.
inline NamedTensor whole_tensor(DType dtype, Shape shape, const void* data) {
  return NamedTensor{dtype, shape, {TensorView{const_cast<void*>(data), dtype, shape}}, 0};
}

// Binds every role by name, checking presence, shape and dtype ("model.layers.3.self_attn.
// q_proj.weight: expected shape [64, 64], got [64, 32]"). Norms must be f32/f16/bf16.
Result<LlamaWeightSources> bind_llama_weights(const TensorLookup& lookup, CheckpointFormat format,
                                              const LlamaConfig& config);

}  // namespace llm
