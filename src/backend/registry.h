// The composition root of backends: the only place that knows which ones were built in.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "util/result.h"

namespace llm {

struct BackendOptions {
  std::string device = "cpu";  // "cpu" | "cpu-reference" (scalar kernels, the truth) | "cuda"
  int n_threads = 0;           // CPU threads; 0 = all hardware threads
};

Result<std::unique_ptr<Backend>> create_backend(const BackendOptions& options);

}  // namespace llm
