// --kv-dtype and --gpu-memory-utilization: how the KV cache is stored and how much of a GPU the
// engine may take (run, bench, serve, chat, perplexity).
#pragma once

#include <string>

#include "cli/args.h"
#include "core/dtype.h"
#include "util/result.h"

namespace llm {

struct MemoryArgs {
  // auto: bf16 on GPUs (half the bytes of f32, the dtype the attention kernels read fastest),
  // f32 on the CPU and on cuda-fp32 (the exact paths the golden tests compare against).
  DType kv_dtype = DType::kF32;
  double gpu_memory_utilization = 0.90;  // share of the GPU's total memory the process may hold
};

Result<MemoryArgs> parse_memory_args(const Args& args, const std::string& device);

}  // namespace llm
