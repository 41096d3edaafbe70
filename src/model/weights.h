// Weight roles: one table maps each role of the Llama architecture to its tensor name in every
// checkpoint format, its expected shape and how tensor parallelism splits it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

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

// Weights as views into host memory (mmap or owned buffers), outermost dim first.
struct LayerWeights {
  TensorView attention_norm;  // [dim]
  TensorView wq;              // [n_heads * head_dim, dim]
  TensorView wk;              // [n_kv_heads * head_dim, dim]
  TensorView wv;              // [n_kv_heads * head_dim, dim]
  TensorView wo;              // [dim, n_heads * head_dim]
  TensorView ffn_norm;        // [dim]
  TensorView w1;              // [ffn_dim, dim]  gate
  TensorView w3;              // [ffn_dim, dim]  up
  TensorView w2;              // [dim, ffn_dim]  down
};

struct LlamaWeights {
  TensorView token_embedding;  // [vocab, dim]
  std::vector<LayerWeights> layers;
  TensorView output_norm;      // [dim]
  TensorView output;           // [vocab, dim]; the embedding itself when tied
};

// Looks up a tensor by name: nullopt when absent.
struct NamedTensor {
  DType dtype;
  Shape shape;
  const void* data;
};
using TensorLookup = std::function<std::optional<NamedTensor>(const std::string& name)>;

// Binds every role by name, checking presence, shape and dtype ("model.layers.3.self_attn.
// q_proj.weight: expected shape [64, 64], got [64, 32]"). Norms must be f32/f16/bf16.
Result<LlamaWeights> bind_llama_weights(const TensorLookup& lookup, CheckpointFormat format,
                                        const LlamaConfig& config);

}  // namespace llm
