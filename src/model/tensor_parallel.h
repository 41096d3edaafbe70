// Sharding rules of Llama over tensor-parallel ranks and pipeline stages: which heads, kv heads,
// ffn rows, vocab rows and layers each rank runs.
//
//   column-parallel  wq, wk, wv, w1, w3   rows of the rank's heads / kv heads / ffn slice
//   row-parallel     wo, w2               columns of the same slices; an all-reduce follows
//   vocab-parallel   embedding, output    rows of the rank's vocab slice (an all-reduce after
//                                         the embedding, an all-gather of the logits)
//   replicated       the norms
//
// Heads are split whole and evenly; with grouped-query attention each rank holds the kv heads
// its query heads read, so tp must divide n_kv_heads or be a multiple of it (then kv heads are
// replicated, as Meta's resharding does). ffn and vocab may split unevenly (in whole
// quantization blocks where a split crosses a quantized row).
#pragma once

#include <string>
#include <vector>

#include "dist/partition.h"
#include "model/config.h"
#include "model/weights.h"

namespace llm {

struct ParallelLayout {
  int tensor_parallel = 1;
  int pipeline_parallel = 1;
};

// The part of the model one rank runs.
struct RankShard {
  int tp_rank = 0;
  int tp_size = 1;
  int pp_stage = 0;
  int pp_size = 1;
  Range q_heads;   // query heads
  Range kv_heads;  // the kv heads those query heads read
  Range ffn;       // rows of w1/w3, columns of w2
  Range vocab;     // rows of the embedding and the output projection
  Range layers;    // this pipeline stage's layers
  bool first_stage() const { return pp_stage == 0; }
  bool last_stage() const { return pp_stage == pp_size - 1; }
};

// Checks the layout against the model and its weights' storage. Errors name the valid sizes:
// "tensor-parallel size 5: 32 attention heads do not split into 5 equal groups of whole heads;
// valid sizes for this model are 1, 2, 4, 8, 16, 32".
Status validate_parallel_layout(const LlamaConfig& config, const LlamaWeightSources& sources,
                                const ParallelLayout& layout);

// The tensor-parallel sizes this model can run (ascending).
std::vector<int> valid_tensor_parallel_sizes(const LlamaConfig& config, const LlamaWeightSources& sources);

// The shard of (tp_rank, pp_stage) under a validated layout.
RankShard plan_rank_shard(const LlamaConfig& config, const LlamaWeightSources& sources, const ParallelLayout& layout,
                          int tp_rank, int pp_stage);

// The vocab rows of tensor-parallel rank `tp_rank` (RankShard::vocab), for merging logits.
Range vocab_slice(const LlamaConfig& config, int tp_size, int tp_rank);

}  // namespace llm
