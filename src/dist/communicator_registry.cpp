#include "dist/communicator_registry.h"

#include <cstdlib>
#include <string>

#include "dist/local_communicator.h"
#include "dist/thread_communicator.h"
#if LLAMA_HAVE_NCCL
#include "dist/nccl_communicator.h"
#endif
#if LLAMA_HAVE_MPI
#include "dist/mpi_process_group.h"
#endif
#include "util/str.h"

namespace llm {

const char* communicator_kind_name(CommunicatorKind kind) {
  switch (kind) {
    case CommunicatorKind::kThreads: return "threads";
    case CommunicatorKind::kNccl: return "nccl";
    case CommunicatorKind::kMpi: return "mpi";
  }
  return "?";
}

bool nccl_available() { return LLAMA_HAVE_NCCL != 0; }
bool mpi_available() { return LLAMA_HAVE_MPI != 0; }

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && std::atoi(value) > 1) return true;
  }
  return false;
}

Result<std::shared_ptr<ProcessGroup>> create_process_world(std::chrono::milliseconds timeout) {
#if LLAMA_HAVE_MPI
  return create_mpi_world(MpiWorldOptions{.timeout = timeout});
#else
  (void)timeout;
  return make_error(ErrorCode::kUnsupported, "mpi: this build has no MPI (install libopenmpi-dev and reconfigure)");
#endif
}

Result<std::unique_ptr<Communicator>> create_process_communicator(ProcessGroup& group, Backend& backend,
                                                                  const ProcessCommunicatorOptions& options) {
  if (group.size() == 1) return std::unique_ptr<Communicator>(std::make_unique<LocalCommunicator>());
  switch (options.kind) {
    case CommunicatorKind::kThreads:
      return make_error(ErrorCode::kInvalidArgument, "the thread communicator cannot span processes; use mpi or nccl");
    case CommunicatorKind::kMpi:
      return group.host_staged_communicator(backend);
    case CommunicatorKind::kNccl: {
#if LLAMA_HAVE_NCCL
      std::vector<std::byte> id;
      if (group.rank() == 0) {
        Result<std::vector<std::byte>> made = nccl_unique_id();
        if (!made) group.abort(made.error().message);  // the peers wait in the broadcast below
        id = std::move(*made);
      }
      Status sent = group.broadcast_bytes(id, /*root=*/0);
      if (!sent) return sent.error();
      return create_nccl_communicator_rank(backend, NcclRankOptions{.device = options.device,
                                                                    .rank = group.rank(),
                                                                    .world = group.size(),
                                                                    .unique_id = std::move(id),
                                                                    .timeout = options.timeout});
#else
      return make_error(ErrorCode::kUnsupported, "nccl: this build has no NCCL; use the mpi communicator");
#endif
    }
  }
  return make_error(ErrorCode::kInternal, "unknown communicator kind");
}

Result<int> visible_cuda_devices() {
#if LLAMA_HAVE_NCCL
  return nccl_visible_devices();
#else
  return make_error(ErrorCode::kUnsupported, "this build cannot count CUDA devices (built without CUDA and NCCL)");
#endif
}

Result<std::vector<std::unique_ptr<Communicator>>> create_communicator_group(std::span<Backend* const> backends,
                                                                             const CommunicatorGroupOptions& options) {
  std::vector<std::unique_ptr<Communicator>> ranks;
  if (backends.size() == 1) {
    ranks.push_back(std::make_unique<LocalCommunicator>());
    return ranks;
  }
  switch (options.kind) {
    case CommunicatorKind::kThreads:
      return create_thread_communicators(backends, ThreadGroupOptions{.timeout = options.timeout});
    case CommunicatorKind::kNccl:
#if LLAMA_HAVE_NCCL
      return create_nccl_communicators(backends, NcclGroupOptions{.devices = options.devices, .timeout = options.timeout});
#else
      return make_error(ErrorCode::kUnsupported, "nccl: this build has no NCCL (CUDA and NCCL were not found at "
                                                 "configure time); use the thread communicator");
#endif
    case CommunicatorKind::kMpi:
      return make_error(ErrorCode::kInvalidArgument,
                        "mpi: an in-process group cannot use the MPI communicator; see create_process_communicator");
  }
  return make_error(ErrorCode::kInternal, "unknown communicator kind");
}

}  // namespace llm
