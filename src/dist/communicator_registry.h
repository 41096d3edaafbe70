// The composition root of communicators: the only place that knows whether NCCL was built in.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "dist/communicator.h"
#include "dist/process_group.h"

namespace llm {

enum class CommunicatorKind {
  kThreads,  // host-staged, any backend: CPU ranks, or several ranks on one GPU
  kNccl,     // one rank per GPU (threads of one process, or processes bootstrapped by MPI)
  kMpi,      // host-staged over MPI, one rank per process: CPU ranks in separate processes
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
bool mpi_available();

// --- Processes launched by mpirun: one rank per process. ---

// Whether this process runs under an MPI launcher with more than one process (OpenMPI's
// OMPI_COMM_WORLD_SIZE, or PMI_SIZE of MPICH/Slurm); the CLI's --launcher auto.
bool launched_by_mpi();

// MPI_Init_thread and the job's world group (MPI_Finalize when it and all its splits are gone);
// an error in a build without MPI.
Result<std::shared_ptr<ProcessGroup>> create_process_world(std::chrono::milliseconds timeout);

struct ProcessCommunicatorOptions {
  CommunicatorKind kind = CommunicatorKind::kMpi;  // kMpi or kNccl (kThreads cannot span processes)
  int device = 0;                                  // kNccl: this process's CUDA device
  std::chrono::milliseconds timeout{60'000};       // per collective
};

// This process's rank of `group` (a group of one is a LocalCommunicator). Collective: every
// process of the group calls it at once. kNccl: rank 0 makes the NCCL unique id and the group
// broadcasts it (MPI_Bcast), then every rank joins (ncclCommInitRank).
Result<std::unique_ptr<Communicator>> create_process_communicator(ProcessGroup& group, Backend& backend,
                                                                  const ProcessCommunicatorOptions& options);

// CUDA devices this process sees (cudaGetDeviceCount), or an error in a build without CUDA
// and NCCL. For --tp auto and checking --devices.
Result<int> visible_cuda_devices();

}  // namespace llm
