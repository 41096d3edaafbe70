#include "backend/registry.h"

#include "backend/cpu/cpu_backend.h"
#if LLAMA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif
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
  if (options.device == "cuda" || options.device == "cuda-fp32") {
#if LLAMA_HAVE_CUDA
    // cuda-fp32: every matrix product in f32 (no bf16 rounding of activations), for golden tests.
    return create_cuda_backend(CudaBackendOptions{.device_index = options.device_index, .exact_fp32 = options.device == "cuda-fp32"});
#else
    return make_error(ErrorCode::kUnsupported,
                      str("device ", options.device, ": this build has no CUDA backend (nvcc was not found "
                          "or LLAMA_CUDA=OFF); use --device cpu"));
#endif
  }
  return make_error(ErrorCode::kInvalidArgument,
                    str("unknown device \"", options.device, "\" (expected cpu, cpu-reference, cuda or cuda-fp32)"));
}

}  // namespace llm
