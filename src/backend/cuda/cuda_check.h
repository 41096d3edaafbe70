// CUDA and cuBLAS API failures are fatal (a broken device or a bug, never user input): these
// functions abort through check_failed with the API's own error string. Allocation failures are
// not routed here; the allocator turns them into kOutOfMemory.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <source_location>

#include "util/check.h"

namespace llm::cuda {

inline void check_cuda(cudaError_t status, const char* what,
                       std::source_location where = std::source_location::current()) {
  if (status != cudaSuccess) [[unlikely]] {
    check_failed(where.file_name(), static_cast<int>(where.line()), what,
                 str(cudaGetErrorName(status), ": ", cudaGetErrorString(status)));
  }
}

inline void check_cublas(cublasStatus_t status, const char* what,
                         std::source_location where = std::source_location::current()) {
  if (status != CUBLAS_STATUS_SUCCESS) [[unlikely]] {
    check_failed(where.file_name(), static_cast<int>(where.line()), what,
                 str("cuBLAS status ", static_cast<int>(status), ": ", cublasGetStatusString(status)));
  }
}

// After a kernel launch: a bad launch configuration shows here, not at the next sync.
inline void check_launch(const char* kernel, std::source_location where = std::source_location::current()) {
  check_cuda(cudaGetLastError(), kernel, where);
}

}  // namespace llm::cuda
