// Meta checkpoints: params.json + consolidated.00.pth ... consolidated.NN.pth for any model-
// parallel size. Nothing is merged here: each tensor is described as its shards' parts along its
// split dimension, and each rank later copies only the slice it runs (model/shard.h) — this is
// where "Loading a checkpoint for MP=1 but world size is 2" ends.
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
  // name -> the whole tensor's shape and its parts (views into `sources`).
  std::map<std::string, NamedTensor> tensors;
  std::vector<TensorSource> sources;
};

Result<std::unique_ptr<MetaCheckpoint>> load_meta_checkpoint(const std::string& dir);

// The consolidated.NN.pth files of `dir`, in shard order; an error when the numbering has a gap.
Result<std::vector<std::string>> find_meta_shards(const std::string& dir);

}  // namespace llm
