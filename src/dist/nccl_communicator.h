// NCCL communicators: one process, one thread per GPU on a node (create_nccl_communicators), or
// one rank per process across nodes (create_nccl_communicator_rank: rank 0's nccl_unique_id is
// carried to the others by the launcher's ProcessGroup, i.e. MPI_Bcast). Compiled only when CUDA and NCCL are found (see CMakeLists.txt);
// callers reach it through dist/communicator_registry.h.
//
// Loud failures: after enqueueing a collective the rank polls ncclCommGetAsyncError and the
// stream until the collective completes, NCCL reports an error, a peer in this process fails,
// or the timeout passes; then it aborts the communicator (ncclCommAbort) and returns an error.
#pragma once

#include <chrono>
#include <cstddef>
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

struct NcclRankOptions {
  int device = 0;                             // this process's CUDA device
  int rank = 0;                               // in the group
  int world = 1;
  std::vector<std::byte> unique_id;           // rank 0's nccl_unique_id(), the same on every rank
  std::chrono::milliseconds timeout{60'000};  // per collective
};

// ncclGetUniqueId, as bytes to broadcast.
Result<std::vector<std::byte>> nccl_unique_id();

// This process's rank of a group spread over processes (ncclCommInitRank); every rank of the
// group calls it at once.
Result<std::unique_ptr<Communicator>> create_nccl_communicator_rank(Backend& backend, const NcclRankOptions& options);

Result<int> nccl_visible_devices();

}  // namespace llm
