#include "engine/step_batch.h"

#include <algorithm>

#include "util/check.h"

namespace llm {

ForwardBatch build_step_batch(const KvManager& kv, std::span<const StepSequence> sequences) {
  ForwardBatch batch;
  size_t max_blocks = 1;
  for (const StepSequence& s : sequences) max_blocks = std::max(max_blocks, s.blocks->blocks.size());
  batch.max_blocks_per_seq = static_cast<int32_t>(max_blocks);
  batch.query_start.push_back(0);
  for (const StepSequence& s : sequences) {
    LLM_CHECK(s.begin < s.end && static_cast<size_t>(s.end) <= s.context.size(), "step range [", s.begin, ", ", s.end,
              ") of a ", s.context.size(), "-token sequence");
    for (int32_t position = s.begin; position < s.end; ++position) {
      batch.tokens.push_back(s.context[static_cast<size_t>(position)]);
      batch.positions.push_back(position);
      batch.slots.push_back(kv.slot(*s.blocks, position));
    }
    batch.query_start.push_back(static_cast<int32_t>(batch.tokens.size()));
    std::vector<int32_t> row(max_blocks, 0);  // unused entries are never read (causal limit)
    std::copy(s.blocks->blocks.begin(), s.blocks->blocks.end(), row.begin());
    batch.block_tables.insert(batch.block_tables.end(), row.begin(), row.end());
    if (s.want_logits) batch.logit_rows.push_back(static_cast<int32_t>(batch.tokens.size()) - 1);
  }
  return batch;
}

}  // namespace llm
