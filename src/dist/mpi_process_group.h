// The MPI ProcessGroup and its host-staged Communicator: ranks in separate processes, launched
// by mpirun (Debian's OpenMPI). Compiled only where CMake finds MPI; callers reach it through
// dist/communicator_registry.h.
#pragma once

#include <chrono>
#include <memory>

#include "dist/process_group.h"

namespace llm {

struct MpiWorldOptions {
  std::chrono::milliseconds timeout{60'000};  // per collective and per broadcast
};

// MPI_Init_thread (at least MPI_THREAD_SERIALIZED: a rank's collectives run on its worker
// thread, the stage hand-offs on the main thread, never both at once) and the world group;
// MPI_Finalize when the world and every group split from it are gone.
Result<std::shared_ptr<ProcessGroup>> create_mpi_world(const MpiWorldOptions& options);

}  // namespace llm
