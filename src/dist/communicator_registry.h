// The composition root of communicators: the only place that knows whether NCCL was built in.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "dist/communicator.h"

namespace llm {

enum class CommunicatorKind {
  kThreads,  // host-staged, any backend: CPU ranks, or several ranks on one GPU
  kNccl,     // one rank per GPU
};

const char* communicator_kind_name(CommunicatorKind kind);

struct CommunicatorGroupOptions {
  CommunicatorKind kind = CommunicatorKind::kThreads;
  std::vector<int> devices;                   // kNccl: the CUDA device of each rank
  std::chrono::milliseconds timeout{60'000};  // per collective
};

// One communicator per backend, rank i = backends[i]. A group of one is a LocalCommunicator.
Result<std::vector<std::unique_ptr<Communicator>>> create_communicator_group(std::span<Backend* const> backends,
                                                                             const CommunicatorGroupOptions& options);

bool nccl_available();

// CUDA devices this process sees (cudaGetDeviceCount), or an error in a build without CUDA
// and NCCL. For --tp auto and checking --devices.
Result<int> visible_cuda_devices();

}  // namespace llm
