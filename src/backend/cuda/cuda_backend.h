// The CUDA backend: one GPU, one stream, every op enqueued on that stream (no host
// synchronisation inside a step except copy_to_host). This header has no CUDA types, so the
// registry and tests include it from plain C++.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "util/result.h"

namespace llm {

struct CudaBackendOptions {
  int device_index = 0;
  // Every matrix product in f32 (weights widened, no tensor-core rounding of activations): the
  // slow twin the golden tests use. Otherwise products with more than a few rows run on bf16/f16
  // tensor cores with f32 accumulation.
  bool exact_fp32 = false;
};

// kUnsupported when the machine has no usable CUDA device.
Result<std::unique_ptr<Backend>> create_cuda_backend(const CudaBackendOptions& options);

}  // namespace llm
