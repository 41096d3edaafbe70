// NCCL communicators: one process, one thread per GPU on a node (create_nccl_communicators), or
// one rank per process across nodes, bootstrapped by MPI (create_nccl_communicator_mpi, built
// only where MPI is found). Compiled only when CUDA and NCCL are found (see CMakeLists.txt);
// callers reach it through dist/communicator_registry.h.
//
// Loud failures: after enqueueing a collective the rank polls ncclCommGetAsyncError and the
// stream until the collective completes, NCCL reports an error, a peer in this process fails,
// or the timeout passes; then it aborts the communicator (ncclCommAbort) and returns an error.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "dist/communicator.h"

namespace llm {

struct NcclGroupOptions {
  std::vector<int> devices;                   // CUDA device of rank i
  std::chrono::milliseconds timeout{60'000};  // per collective
};

// backends[i] drives devices[i]; the communicators are created together (ncclCommInitAll).
Result<std::vector<std::unique_ptr<Communicator>>> create_nccl_communicators(std::span<Backend* const> backends,
                                                                             const NcclGroupOptions& options);

Result<int> nccl_visible_devices();

}  // namespace llm
