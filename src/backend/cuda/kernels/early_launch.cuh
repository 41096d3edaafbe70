// Programmatic dependent launch (sm_90+). A kernel started with launch_early may be scheduled while
// the kernel before it on the stream is still running, so its launch latency, and any prologue
// that reads only weights (a GEMV's first loads), overlap that kernel's tail: a decode step is
// ~300 short kernels in a row, and each otherwise waits for the last block of the one before.
//
// The rule for a kernel launched this way: wait_for_prior_kernels() comes before it reads or
// writes anything earlier work touches, on every path, before any return (a grid whose threads all
// left without waiting could finish before its predecessor, and its successor would wait on it
// alone). allow_next_kernels() lets the kernel after it start early in turn. On older GPUs both
// are no-ops and the launch is an ordinary one.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"

namespace llm::cuda {

__device__ __forceinline__ void wait_for_prior_kernels() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void allow_next_kernels() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Whether the calling thread's current device runs programmatic dependent launches (sm_90+).
bool early_launch_supported();

template <typename... Params, typename... Args>
void launch_early(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream, Args... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = 0;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = early_launch_supported() ? 1 : 0;
  check_cuda(cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...), "cudaLaunchKernelEx");
}

}  // namespace llm::cuda
