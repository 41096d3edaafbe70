#include "cli/memory_args.h"

#include "util/str.h"

namespace llm {

Result<MemoryArgs> parse_memory_args(const Args& args, const std::string& device) {
  MemoryArgs out;
  const std::string kv = args.value("--kv-dtype").value_or("auto");
  if (kv == "auto") {
    out.kv_dtype = device == "cuda" ? DType::kBF16 : DType::kF32;
  } else if (kv == "f32" || kv == "f16" || kv == "bf16") {
    out.kv_dtype = *dtype_from_name(kv);
  } else {
    return make_error(ErrorCode::kInvalidArgument, str("--kv-dtype: expected auto, f32, f16 or bf16, got '", kv, "'"));
  }
  Result<double> utilization = args.number("--gpu-memory-utilization", 0.90, 0.0, 1.0);
  if (!utilization) return utilization.error();
  if (*utilization <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "--gpu-memory-utilization must be in (0, 1], got 0");
  }
  out.gpu_memory_utilization = *utilization;
  return out;
}

}  // namespace llm
