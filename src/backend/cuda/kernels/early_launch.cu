#include "backend/cuda/kernels/early_launch.cuh"

#include <cstdlib>
#include <cstring>

namespace llm::cuda {

// LLAMA_CUDA_EARLY_LAUNCH=0 turns the early launches off (ordinary launches), to measure them.
bool early_launch_supported() {
  static const bool disabled = [] {
    const char* value = std::getenv("LLAMA_CUDA_EARLY_LAUNCH");
    return value != nullptr && std::strcmp(value, "0") == 0;
  }();
  thread_local int device = -1;
  thread_local bool supported = false;
  int current = 0;
  check_cuda(cudaGetDevice(&current), "cudaGetDevice");
  if (current != device) {
    int major = 0;
    check_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, current), "cudaDeviceGetAttribute");
    device = current;
    supported = major >= 9;
  }
  return supported && !disabled;
}

}  // namespace llm::cuda
