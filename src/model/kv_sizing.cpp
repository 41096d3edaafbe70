#include "model/kv_sizing.h"

#include <algorithm>
#include <cmath>

#include "model/llama/llama_model.h"
#include "util/str.h"

namespace llm {
namespace {

std::string gib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  return text;
}

}  // namespace

Result<KvBudget> plan_kv_blocks(const KvBudgetInput& in) {
  LLM_CHECK(in.bytes_per_block > 0 && in.block_size > 0 && in.blocks_required >= 1, "kv budget input: ",
            in.bytes_per_block, " bytes per block, ", in.blocks_required, " blocks required");
  if (!(in.utilization > 0 && in.utilization <= 1)) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("--gpu-memory-utilization must be in (0, 1], got ", in.utilization));
  }
  const int64_t allowed = static_cast<int64_t>(std::floor(in.utilization * static_cast<double>(in.memory.total_bytes)));
  const int64_t used = in.memory.total_bytes - in.memory.free_bytes;
  // What may be taken: the allowed share less what is held already, and never more than is free.
  const int64_t available = std::min(allowed - used, in.memory.free_bytes) - in.reserve_bytes;
  const int64_t fit = std::max<int64_t>(0, available / in.bytes_per_block);
  const int64_t wanted = std::max(in.blocks_wanted, in.blocks_required);
  const std::string why = str(gib(allowed), " allowed (", in.utilization, " of ", gib(in.memory.total_bytes), "), ",
                              gib(used), " in use after the weights and the largest step, ", gib(in.reserve_bytes),
                              " kept for recorded decode steps",
                              in.memory.host_mapped_bytes > 0
                                  ? str(" (", gib(in.memory.host_mapped_bytes),
                                        " of weights, the token embedding, read in place from pinned host memory)")
                                  : std::string());
  if (fit < in.blocks_required) {
    return make_error(ErrorCode::kOutOfMemory,
                      str("KV cache: ", in.blocks_required, " blocks (", in.blocks_required * in.block_size,
                          " tokens, ", gib(in.blocks_required * in.bytes_per_block),
                          ") are needed for one sequence but only ", fit, " fit: ", why,
                          "; raise --gpu-memory-utilization, shorten the context, or use more GPUs"));
  }
  KvBudget budget;
  budget.n_blocks = std::min(fit, wanted);
  budget.explanation =
      str("KV cache: ", budget.n_blocks, " blocks of ", in.block_size, " tokens (", budget.n_blocks * in.block_size,
          " tokens, ", gib(budget.n_blocks * in.bytes_per_block), "); ", why, "; ",
          fit > wanted ? str("capped at the ", wanted, " blocks the engine can use")
                       : str(wanted, " blocks would be the engine's most"));
  return budget;
}

Result<KvBudget> size_and_allocate_kv(LlamaModel& model, Backend& backend, const KvSizingOptions& options) {
  LLM_CHECK(model.kv_options().n_blocks == 0, "size_and_allocate_kv: the pool is allocated already");
  const int64_t block_size = model.kv_options().block_size;
  Result<DeviceMemory> probe = backend.device_memory();
  if (!probe) {  // host memory: the pool is what the engine asks for
    const int64_t n_blocks = std::max(options.blocks_wanted, options.blocks_required);
    Status status = model.allocate_kv_cache(static_cast<int32_t>(n_blocks));
    if (!status) return status.error();
    return KvBudget{.n_blocks = n_blocks,
                    .explanation = str("KV cache: ", n_blocks, " blocks of ", block_size, " tokens (",
                                       gib(n_blocks * model.kv_bytes_per_block()), ") in host memory")};
  }
  // Profiling pass: the largest step, on a pool just big enough for it.
  const int64_t step_rows = std::max<int64_t>(1, options.max_step_tokens);
  const int64_t profile_blocks = (step_rows + block_size - 1) / block_size;
  Status status = model.allocate_kv_cache(static_cast<int32_t>(profile_blocks));
  if (!status) return status.error();
  status = model.run_profile_step(step_rows, std::clamp<int64_t>(options.max_logit_rows, 1, step_rows));
  if (!status) return status.error();
  // In use now: context, weights, the step's activations (the model keeps its workspace, sized
  // for this largest step) and the profile pool, which goes.
  Result<DeviceMemory> after_step = backend.device_memory();
  if (!after_step) return after_step.error();
  const int64_t profile_pool_bytes = profile_blocks * model.kv_bytes_per_block();
  status = model.allocate_kv_cache(0);
  if (!status) return status.error();
  backend.release_cached_memory();  // the profile pool's blocks would otherwise stay cached
  DeviceMemory planned = *after_step;
  planned.free_bytes = std::min(after_step->total_bytes, after_step->free_bytes + profile_pool_bytes);
  Result<KvBudget> budget = plan_kv_blocks(KvBudgetInput{
      .memory = planned,
      .utilization = options.utilization,
      .reserve_bytes = model.recorded_steps_reserve_bytes(options.max_logit_rows),
      .bytes_per_block = model.kv_bytes_per_block(),
      .block_size = block_size,
      .blocks_wanted = options.blocks_wanted,
      .blocks_required = options.blocks_required,
  });
  if (!budget) return budget.error();
  status = model.allocate_kv_cache(static_cast<int32_t>(budget->n_blocks));
  if (!status) return status.error();
  return budget;
}

}  // namespace llm
