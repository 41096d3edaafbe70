// Builds the ForwardBatch of one step from any number of sequences, each contributing the
// tokens [begin, end) of its context (a prefill chunk, or one decode token).
#pragma once

#include <span>
#include <vector>

#include "kv/block_pool.h"
#include "model/llama/llama_model.h"

namespace llm {

struct StepSequence {
  const SequenceBlocks* blocks;       // reserved for at least `end` tokens
  std::span<const int32_t> context;   // all tokens of the sequence so far
  int32_t begin = 0;                  // first position computed this step
  int32_t end = 0;                    // one past the last
  bool want_logits = true;            // return the logits of position end - 1
};

ForwardBatch build_step_batch(const KvManager& kv, std::span<const StepSequence> sequences);

}  // namespace llm
