// Meta checkpoints: params.json + consolidated.00.pth ... consolidated.NN.pth for any model-
// parallel size. The shards are merged back into whole tensors along each tensor's split
// dimension (this is where "Loading a checkpoint for MP=1 but world size is 2" ends).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/tensor_source.h"
#include "model/config.h"
#include "model/weights.h"

namespace llm {

struct MetaCheckpoint {
  LlamaConfig config;
  int n_shards = 0;
  // name -> merged tensor; data points into `sources` (MP=1, zero copy) or `owned`.
  std::map<std::string, NamedTensor> tensors;
  std::vector<TensorSource> sources;
  std::vector<std::vector<std::byte>> owned;
};

Result<std::unique_ptr<MetaCheckpoint>> load_meta_checkpoint(const std::string& dir);

// The consolidated.NN.pth files of `dir`, in shard order; an error when the numbering has a gap.
Result<std::vector<std::string>> find_meta_shards(const std::string& dir);

}  // namespace llm
