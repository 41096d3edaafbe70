// ModelRunner: what the engine drives — one step over a batch of sequences, returning logits.
// A single-device LlamaModel is one; a tensor/pipeline-parallel executor over several ranks is
// another. The engine never knows which.
#pragma once

#include <vector>

#include "model/config.h"
#include "util/result.h"

namespace llm {

struct ForwardBatch;

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual const LlamaConfig& config() const = 0;
  // Runs one step; logits gets [batch.logit_rows.size(), vocab] floats.
  virtual Status forward(const ForwardBatch& batch, std::vector<float>& logits) = 0;
};

}  // namespace llm
