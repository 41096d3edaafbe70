// A group of ranks in one process, each on its own thread, exchanging data through host memory:
// every collective copies the rank's tensor to a host staging buffer (Backend::copy_to_host),
// meets the other ranks there, and copies the result back (copy_from_host). It therefore works
// with any Backend: N CPU ranks (CI runs tensor parallelism on CPUs with it), or N ranks on one
// GPU, where NCCL refuses to run (it checks the CUDA path of TP on a single card).
//
// Every wait is bounded by `timeout`: a rank that never arrives fails the collective on the
// others (and every later one) with a message naming the missing ranks.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "dist/communicator.h"

namespace llm {

struct ThreadGroupOptions {
  std::chrono::milliseconds timeout{60'000};  // per collective, from the first rank's arrival
};

// One communicator per backend (rank i = backends[i]); each is used by one thread at a time.
std::vector<std::unique_ptr<Communicator>> create_thread_communicators(std::span<Backend* const> backends,
                                                                       const ThreadGroupOptions& options);

}  // namespace llm
