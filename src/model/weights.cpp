#include "model/weights.h"

#include <algorithm>

#include "util/check.h"
#include "util/str.h"

namespace llm {

const char* checkpoint_format_name(CheckpointFormat format) {
  switch (format) {
    case CheckpointFormat::kHuggingFace: return "hugging face safetensors";
    case CheckpointFormat::kMeta: return "meta consolidated.pth";
    case CheckpointFormat::kGguf: return "gguf";
  }
  return "?";
}

const std::vector<WeightRoleInfo>& llama_weight_roles() {
  static const std::vector<WeightRoleInfo> kRoles = {
      {WeightRole::kTokenEmbedding, false, ShardRule::kColumn}, {WeightRole::kAttentionNorm, true, ShardRule::kReplicated},
      {WeightRole::kWq, true, ShardRule::kColumn},              {WeightRole::kWk, true, ShardRule::kColumn},
      {WeightRole::kWv, true, ShardRule::kColumn},              {WeightRole::kWo, true, ShardRule::kRow},
      {WeightRole::kFfnNorm, true, ShardRule::kReplicated},     {WeightRole::kW1, true, ShardRule::kColumn},
      {WeightRole::kW3, true, ShardRule::kColumn},              {WeightRole::kW2, true, ShardRule::kRow},
      {WeightRole::kOutputNorm, false, ShardRule::kReplicated}, {WeightRole::kOutput, false, ShardRule::kColumn},
  };
  return kRoles;
}

std::string weight_name(WeightRole role, CheckpointFormat format, int64_t layer) {
  const char* hf = "";
  const char* meta = "";
  const char* gguf = "";
  switch (role) {
    case WeightRole::kTokenEmbedding: hf = "model.embed_tokens.weight"; meta = "tok_embeddings.weight"; gguf = "token_embd.weight"; break;
    case WeightRole::kAttentionNorm: hf = "input_layernorm.weight"; meta = "attention_norm.weight"; gguf = "attn_norm.weight"; break;
    case WeightRole::kWq: hf = "self_attn.q_proj.weight"; meta = "attention.wq.weight"; gguf = "attn_q.weight"; break;
    case WeightRole::kWk: hf = "self_attn.k_proj.weight"; meta = "attention.wk.weight"; gguf = "attn_k.weight"; break;
    case WeightRole::kWv: hf = "self_attn.v_proj.weight"; meta = "attention.wv.weight"; gguf = "attn_v.weight"; break;
    case WeightRole::kWo: hf = "self_attn.o_proj.weight"; meta = "attention.wo.weight"; gguf = "attn_output.weight"; break;
    case WeightRole::kFfnNorm: hf = "post_attention_layernorm.weight"; meta = "ffn_norm.weight"; gguf = "ffn_norm.weight"; break;
    case WeightRole::kW1: hf = "mlp.gate_proj.weight"; meta = "feed_forward.w1.weight"; gguf = "ffn_gate.weight"; break;
    case WeightRole::kW3: hf = "mlp.up_proj.weight"; meta = "feed_forward.w3.weight"; gguf = "ffn_up.weight"; break;
    case WeightRole::kW2: hf = "mlp.down_proj.weight"; meta = "feed_forward.w2.weight"; gguf = "ffn_down.weight"; break;
    case WeightRole::kOutputNorm: hf = "model.norm.weight"; meta = "norm.weight"; gguf = "output_norm.weight"; break;
    case WeightRole::kOutput: hf = "lm_head.weight"; meta = "output.weight"; gguf = "output.weight"; break;
  }
  bool per_layer = false;
  for (const auto& info : llama_weight_roles()) {
    if (info.role == role) per_layer = info.per_layer;
  }
  switch (format) {
    case CheckpointFormat::kHuggingFace: return per_layer ? str("model.layers.", layer, ".", hf) : hf;
    case CheckpointFormat::kMeta: return per_layer ? str("layers.", layer, ".", meta) : meta;
    case CheckpointFormat::kGguf: return per_layer ? str("blk.", layer, ".", gguf) : gguf;
  }
  return "";
}

Shape expected_weight_shape(WeightRole role, const LlamaConfig& c) {
  int64_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  switch (role) {
    case WeightRole::kTokenEmbedding: return {c.vocab_size, c.dim};
    case WeightRole::kAttentionNorm: return {c.dim};
    case WeightRole::kWq: return {q, c.dim};
    case WeightRole::kWk: return {kv, c.dim};
    case WeightRole::kWv: return {kv, c.dim};
    case WeightRole::kWo: return {c.dim, q};
    case WeightRole::kFfnNorm: return {c.dim};
    case WeightRole::kW1: return {c.ffn_dim, c.dim};
    case WeightRole::kW3: return {c.ffn_dim, c.dim};
    case WeightRole::kW2: return {c.dim, c.ffn_dim};
    case WeightRole::kOutputNorm: return {c.dim};
    case WeightRole::kOutput: return {c.vocab_size, c.dim};
  }
  return {};
}

namespace {

bool is_norm(WeightRole role) {
  return role == WeightRole::kAttentionNorm || role == WeightRole::kFfnNorm || role == WeightRole::kOutputNorm;
}

Result<WeightSource> bind_one(const TensorLookup& lookup, WeightRole role, CheckpointFormat format, int64_t layer,
                              const LlamaConfig& config) {
  std::string name = weight_name(role, format, layer);
  std::optional<NamedTensor> tensor = lookup(name);
  if (!tensor) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(name, ": missing from the ", checkpoint_format_name(format), " checkpoint"));
  }
  Shape expected = expected_weight_shape(role, config);
  if (tensor->shape != expected) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(name, ": expected shape ", expected, ", got ", tensor->shape));
  }
  bool dense = tensor->dtype == DType::kF32 || tensor->dtype == DType::kF16 || tensor->dtype == DType::kBF16;
  if (tensor->dtype == DType::kI32 || (is_norm(role) && !dense)) {
    return make_error(ErrorCode::kUnsupported, str(name, ": dtype ", dtype_name(tensor->dtype),
                                                   " is not supported for this tensor"));
  }
  LLM_CHECK(!tensor->parts.empty(), name, ": a lookup returned no parts");
  return WeightSource{name, tensor->dtype, tensor->shape, tensor->split_dim, std::move(tensor->parts)};
}

}  // namespace

Result<LlamaWeightSources> bind_llama_weights(const TensorLookup& lookup, CheckpointFormat format,
                                              const LlamaConfig& config) {
  LlamaWeightSources sources;
  sources.layers.resize(static_cast<size_t>(config.n_layers));
  Status status;
  for_each_weight(
      [&](WeightRole role, int64_t layer, WeightSource& slot) {
        if (!status || (role == WeightRole::kOutput && config.tied_embeddings)) return;
        Result<WeightSource> bound = bind_one(lookup, role, format, std::max<int64_t>(layer, 0), config);
        if (!bound) {
          status = bound.error();
          return;
        }
        slot = std::move(*bound);
      },
      sources);
  if (!status) return status.error();
  if (config.tied_embeddings) sources.output = sources.token_embedding;
  return sources;
}

}  // namespace llm
