// ProcessGroup: the processes of a multi-process job (launched by mpirun), or a subset of them
// (split), seen from one process. It carries host data between processes (the residual stream
// between pipeline stages, NCCL's unique id) and makes the stage's Communicator; the forward
// pass never sees it. One implementation: MPI (dist/mpi_process_group.cpp, built where MPI is
// found); callers reach it through dist/communicator_registry.h.
//
// Every wait is bounded by the group's timeout (MPI has none: non-blocking calls polled against a
// deadline). A failed wait returns an error; the caller then calls abort(), which prints the
// reason and ends every process of the job with a non-zero status (MPI_Abort): a pending MPI
// collective cannot be cancelled, so no process can go on once one has given up.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "dist/communicator.h"
#include "util/result.h"

namespace llm {

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This process's index among the job's processes on its node (its GPU), and their count.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;

  // data <- root's data on every process (receivers are resized to root's size).
  virtual Status broadcast_floats(std::vector<float>& data, int root) = 0;
  virtual Status broadcast_bytes(std::vector<std::byte>& data, int root) = 0;

  // The processes with the same color, ranked by key (MPI_Comm_split); collective over this group.
  virtual Result<std::unique_ptr<ProcessGroup>> split(int color, int key) = 0;

  // A Communicator over this group's processes, one rank per process, host-staged through
  // `backend` (copy_to_host / copy_from_host): CPU ranks in separate processes. The group must
  // outlive it.
  virtual std::unique_ptr<Communicator> host_staged_communicator(Backend& backend) = 0;

  // Prints `reason` to stderr and ends every process of the job with a non-zero exit status.
  [[noreturn]] virtual void abort(const std::string& reason) = 0;
};

}  // namespace llm
