// The composition root of backends: the only place that knows which ones were built in.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "util/result.h"

namespace llm {

struct BackendOptions {
  // "cpu" | "cpu-reference" (scalar kernels, the truth) | "cuda" | "cuda-fp32" (f32 matrix products)
  std::string device = "cpu";
  int n_threads = 0;           // CPU threads; 0 = all hardware threads
  int device_index = 0;        // which GPU, for cuda devices
};

Result<std::unique_ptr<Backend>> create_backend(const BackendOptions& options);

}  // namespace llm
