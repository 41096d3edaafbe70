#include "backend/registry.h"

#include "backend/cpu/cpu_backend.h"
#include "util/str.h"
#include "util/thread_pool.h"

namespace llm {

Result<std::unique_ptr<Backend>> create_backend(const BackendOptions& options) {
  int n_threads = options.n_threads > 0 ? options.n_threads : default_thread_count();
  if (options.device == "cpu") {
    return std::unique_ptr<Backend>(new CpuBackend(CpuBackendOptions{.n_threads = n_threads, .reference = false}));
  }
  if (options.device == "cpu-reference") {
    return std::unique_ptr<Backend>(new CpuBackend(CpuBackendOptions{.n_threads = 1, .reference = true}));
  }
  if (options.device == "cuda") {
    return make_error(ErrorCode::kUnsupported, "device cuda: this build has no CUDA backend yet; use --device cpu");
  }
  return make_error(ErrorCode::kInvalidArgument,
                    str("unknown device \"", options.device, "\" (expected cpu, cpu-reference or cuda)"));
}

}  // namespace llm
