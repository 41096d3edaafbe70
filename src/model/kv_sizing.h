// Sizing the paged KV pool from the memory a device really has: the weights are placed, the
// largest step the engine will run is run once (the profiling pass), and the pool gets what is
// left of the allowed share of the device, never more than the engine could ever use. The
// choice comes with its reasons, in words, for the user.
#pragma once

#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "util/result.h"

namespace llm {

class LlamaModel;

struct KvBudgetInput {
  DeviceMemory memory;               // after the weights and the profiling step, profile pool freed
  double utilization = 0.90;         // share of the device's total this process may hold
  int64_t reserve_bytes = 0;         // kept free on top of what is in use (recorded decode steps)
  int64_t bytes_per_block = 0;       // K and V, every layer, one block
  int64_t block_size = 16;           // tokens per block
  int64_t blocks_wanted = 0;         // the most the engine could use (max sequences x context)
  int64_t blocks_required = 1;       // the least that is useful (one longest sequence)
};

struct KvBudget {
  int64_t n_blocks = 0;
  std::string explanation;  // one line: the numbers behind n_blocks
};

// kOutOfMemory, with the numbers, when not even blocks_required fit.
Result<KvBudget> plan_kv_blocks(const KvBudgetInput& input);

struct KvSizingOptions {
  double utilization = 0.90;      // --gpu-memory-utilization
  int64_t max_step_tokens = 512;  // the largest step the scheduler runs (its token budget)
  int64_t max_logit_rows = 64;    // the most sequences a step returns logits for
  int64_t blocks_wanted = 0;
  int64_t blocks_required = 1;
};

// On a device with memory of its own: profiling pass, plan, and the pool allocated. Elsewhere
// (the CPU) the pool is blocks_wanted. The model's pool must be empty (n_blocks 0) on entry.
Result<KvBudget> size_and_allocate_kv(LlamaModel& model, Backend& backend, const KvSizingOptions& options);

}  // namespace llm
