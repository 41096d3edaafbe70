#include "dist/communicator_registry.h"

#include "dist/local_communicator.h"
#include "dist/thread_communicator.h"
#if LLAMA_HAVE_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace llm {

const char* communicator_kind_name(CommunicatorKind kind) {
  switch (kind) {
    case CommunicatorKind::kThreads: return "threads";
    case CommunicatorKind::kNccl: return "nccl";
  }
  return "?";
}

bool nccl_available() { return LLAMA_HAVE_NCCL != 0; }

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
  }
  return make_error(ErrorCode::kInternal, "unknown communicator kind");
}

}  // namespace llm
