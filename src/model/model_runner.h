// ModelRunner: what the engine drives — one step over a batch of sequences, returning logits.
// A single-device LlamaModel is one; a tensor/pipeline-parallel executor over several ranks is
// another. The engine never knows which.
#pragma once

#include <span>
#include <vector>

#include "backend/sampling.h"
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

  // Whether forward_sampled runs: the logits stay where they were computed and are sampled
  // there, so a step returns token ids instead of [rows, vocab] floats.
  virtual bool samples_on_device() const { return false; }
  // Runs one step and picks a token from each logit row i with sampling[i] (pick_token's
  // definition): tokens gets batch.logit_rows.size() ids. The rows listed in host_rows (indices
  // into logit_rows, increasing) also come back as logits: [host_rows.size(), vocab], for the
  // sequences of the step that are picked on the host (logprobs, penalties) while the others are
  // picked where the logits are.
  virtual Status forward_sampled(const ForwardBatch& batch, std::span<const TokenSampling> sampling,
                                 std::vector<int32_t>& tokens, std::span<const int32_t> host_rows,
                                 std::vector<float>& host_logits) {
    return make_error(ErrorCode::kUnsupported, "this model runner samples on the host only");
  }
};

}  // namespace llm
