#include "model/tensor_parallel.h"

#include <optional>

#include "util/str.h"

namespace llm {
namespace {

int64_t block_size(const WeightSource& source) { return dtype_info(source.dtype).block_size; }

// The unit the ffn is split in: whole quantization blocks of every w2 (split along its columns).
int64_t ffn_unit(const LlamaWeightSources& sources) {
  int64_t unit = 1;
  for (const auto& layer : sources.layers) unit = std::max(unit, block_size(layer.w2));
  return unit;
}

// Why `tp` cannot split this model, or nullopt when it can.
std::optional<std::string> why_invalid(const LlamaConfig& c, const LlamaWeightSources& sources, int64_t tp) {
  if (tp < 1) return str("must be at least 1");
  if (tp > c.n_heads || c.n_heads % tp != 0) {
    return str(c.n_heads, " attention heads do not split into ", tp, " equal groups of whole heads");
  }
  if (c.n_kv_heads % tp != 0 && tp % c.n_kv_heads != 0) {
    return str(c.n_kv_heads, " kv heads neither split into ", tp, " equal groups nor replicate evenly onto ", tp,
               " ranks");
  }
  int64_t columns = c.n_heads / tp * c.head_dim;  // wo columns per rank
  for (size_t i = 0; i < sources.layers.size(); ++i) {
    const WeightSource& wo = sources.layers[i].wo;
    if (columns % block_size(wo) != 0) {
      return str(wo.name, " is ", dtype_name(wo.dtype), " (blocks of ", block_size(wo), " columns) and ", tp,
                 " ranks would split it at ", columns, "-column boundaries");
    }
  }
  int64_t unit = ffn_unit(sources);
  if (c.ffn_dim % unit != 0 || c.ffn_dim / unit < tp) {
    return str("the ffn (", c.ffn_dim, " = ", c.ffn_dim / unit, " blocks of ", unit, ") has fewer than ", tp,
               " whole blocks");
  }
  if (c.vocab_size < tp) return str("the vocabulary has only ", c.vocab_size, " rows");
  return std::nullopt;
}

std::string join(const std::vector<int>& values) {
  std::string text;
  for (int v : values) text += str(text.empty() ? "" : ", ", v);
  return text;
}

}  // namespace

std::vector<int> valid_tensor_parallel_sizes(const LlamaConfig& config, const LlamaWeightSources& sources) {
  std::vector<int> sizes;
  for (int64_t tp = 1; tp <= config.n_heads; ++tp) {
    if (!why_invalid(config, sources, tp)) sizes.push_back(static_cast<int>(tp));
  }
  return sizes;
}

Status validate_parallel_layout(const LlamaConfig& config, const LlamaWeightSources& sources,
                                const ParallelLayout& layout) {
  if (std::optional<std::string> why = why_invalid(config, sources, layout.tensor_parallel)) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("tensor-parallel size ", layout.tensor_parallel, ": ", *why,
                          "; valid sizes for this model are ",
                          join(valid_tensor_parallel_sizes(config, sources))));
  }
  if (layout.pipeline_parallel < 1 || layout.pipeline_parallel > config.n_layers) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("pipeline-parallel size ", layout.pipeline_parallel, ": the model has ", config.n_layers,
                          " layers, so 1 to ", config.n_layers, " pipeline stages are possible"));
  }
  return {};
}

Range vocab_slice(const LlamaConfig& config, int tp_size, int tp_rank) {
  return split_range(config.vocab_size, tp_size, tp_rank);
}

RankShard plan_rank_shard(const LlamaConfig& c, const LlamaWeightSources& sources, const ParallelLayout& layout,
                          int tp_rank, int pp_stage) {
  const int64_t tp = layout.tensor_parallel;
  LLM_CHECK(!why_invalid(c, sources, tp) && tp_rank >= 0 && tp_rank < tp && pp_stage >= 0 &&
                pp_stage < layout.pipeline_parallel,
            "plan_rank_shard: tp ", tp, " rank ", tp_rank, ", pp ", layout.pipeline_parallel, " stage ", pp_stage);
  RankShard shard{.tp_rank = tp_rank, .tp_size = layout.tensor_parallel, .pp_stage = pp_stage,
                  .pp_size = layout.pipeline_parallel};
  const int64_t group = c.n_heads / c.n_kv_heads;  // query heads per kv head
  if (tp <= c.n_kv_heads) {
    shard.kv_heads = split_range(c.n_kv_heads, tp, tp_rank);
    shard.q_heads = Range{shard.kv_heads.begin * group, shard.kv_heads.end * group};
  } else {  // each kv head replicated onto tp / n_kv_heads ranks, which split its query heads
    int64_t ranks_per_kv = tp / c.n_kv_heads;
    int64_t kv = tp_rank / ranks_per_kv;
    shard.kv_heads = Range{kv, kv + 1};
    shard.q_heads = split_range(c.n_heads, tp, tp_rank);
  }
  shard.ffn = split_range(c.ffn_dim, tp, tp_rank, ffn_unit(sources));
  shard.vocab = vocab_slice(c, layout.tensor_parallel, tp_rank);
  shard.layers = split_range(c.n_layers, layout.pipeline_parallel, pp_stage);
  return shard;
}

}  // namespace llm
