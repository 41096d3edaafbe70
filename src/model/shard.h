// Builds one rank's weights straight from the checkpoint's storage, touching only the bytes that
// rank needs. Row slices of a single-part tensor (wq/wk/wv/w1/w3 rows, vocab rows, norms) and a
// Meta MP shard that is exactly the rank's part are zero-copy views into the mapped files;
// column slices (wo, w2) and slices that cross Meta MP shards are copied, just that slice.
#pragma once

#include <cstddef>
#include <vector>

#include "model/tensor_parallel.h"
#include "model/weights.h"

namespace llm {

struct ShardWeights {
  LlamaWeights weights;  // host views; layers = the stage's layers; embedding only on the first
                         // stage, output norm and output only on the last
  // Slots of a synthetic model: the block each device makes itself; their views above have the
  // dtype and shape but no data.
  LlamaTensors<std::optional<SyntheticFill>> synthetic;
  bool tied_output = false;  // the output is the token embedding's own slot (one copy)
  std::vector<std::vector<std::byte>> owned;  // the copied slices the views point into
  int64_t copied_bytes = 0;
};

Result<ShardWeights> build_shard_weights(const LlamaWeightSources& sources, const LlamaConfig& config,
                                         const RankShard& shard);

// Rows [rows) x columns [columns) of `source` (2-D), as a view when the bytes are contiguous in
// one part, else copied into a new buffer appended to `owned`. Quantized columns must start and
// end on block boundaries.
Result<TensorView> slice_weight(const WeightSource& source, Range rows, Range columns,
                                std::vector<std::vector<std::byte>>& owned);

}  // namespace llm
