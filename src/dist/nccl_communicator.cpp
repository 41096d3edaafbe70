#include "dist/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "util/str.h"

namespace llm {
namespace {

Error nccl_error(const std::string& what, ncclResult_t result) {
  return make_error(ErrorCode::kInternal, str("nccl: ", what, ": ", ncclGetErrorString(result)));
}
Error cuda_error(const std::string& what, cudaError_t result) {
  return make_error(ErrorCode::kInternal, str("cuda: ", what, ": ", cudaGetErrorString(result)));
}

// Shared by the ranks of one process: the first failure, seen by every rank's polling loop.
struct GroupState {
  std::atomic<bool> failed{false};
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int rank, int world, int device, Backend& backend,
                   std::shared_ptr<GroupState> group, std::chrono::milliseconds timeout)
      : comm_(comm), rank_(rank), world_(world), device_(device), backend_(backend), group_(std::move(group)),
        timeout_(timeout) {}
  ~NcclCommunicator() override {
    if (scratch_ != nullptr) cudaFree(scratch_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    if (comm_ != nullptr) {
      if (failure_.empty()) {
        ncclCommDestroy(comm_);
      } else {
        ncclCommAbort(comm_);
      }
    }
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string name() const override { return "nccl"; }

  Status all_reduce_sum(TensorView x) override {
    LLM_CHECK(x.dtype == DType::kF32, "all_reduce_sum: f32 only, got ", dtype_name(x.dtype));
    return run("all_reduce_sum", [&] {
      return ncclAllReduce(x.data, x.data, static_cast<size_t>(x.numel()), ncclFloat32, ncclSum, comm_, stream_);
    });
  }

  // NCCL's all-gather needs equal parts; uneven parts (uneven vocab slices) are gathered as
  // one broadcast per rank, which is what ncclAllGather does internally anyway.
  Status all_gather(TensorView in, TensorView out) override {
    LLM_CHECK(in.dtype == out.dtype, "all_gather: in ", dtype_name(in.dtype), ", out ", dtype_name(out.dtype));
    std::vector<int64_t> sizes(static_cast<size_t>(world_));
    Status status = exchange_sizes(in.bytes(), sizes);
    if (!status) return status;
    int64_t total = 0;
    for (int64_t s : sizes) total += s;
    if (total != out.bytes()) {
      return fail(str("all_gather: the ranks bring ", total, " bytes, rank ", rank_, "'s output holds ", out.bytes()));
    }
    return run("all_gather", [&] {
      ncclResult_t result = ncclGroupStart();
      int64_t offset = 0;
      for (int r = 0; r < world_ && result == ncclSuccess; ++r) {
        void* dst = static_cast<std::byte*>(out.data) + offset;
        result = ncclBroadcast(r == rank_ ? in.data : dst, dst, static_cast<size_t>(sizes[static_cast<size_t>(r)]),
                               ncclUint8, r, comm_, stream_);
        offset += sizes[static_cast<size_t>(r)];
      }
      ncclResult_t end = ncclGroupEnd();
      return result != ncclSuccess ? result : end;
    });
  }

  Status broadcast(TensorView x, int root) override {
    return run("broadcast", [&] {
      return ncclBroadcast(x.data, x.data, static_cast<size_t>(x.bytes()), ncclUint8, root, comm_, stream_);
    });
  }

  Status barrier() override {
    int64_t dummy = 0;
    std::vector<int64_t> sizes(static_cast<size_t>(world_));
    return exchange_sizes(dummy, sizes);
  }

  // Called from another thread (the executor): only the shared flag is touched; this rank's
  // polling loop sees it and aborts its own NCCL communicator.
  void abort(const std::string& reason) override { group_->failed = true; }

  Status init_stream() {
    cudaError_t set = cudaSetDevice(device_);
    if (set != cudaSuccess) return cuda_error(str("cudaSetDevice(", device_, ")"), set);
    cudaError_t created = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
    if (created != cudaSuccess) return cuda_error("cudaStreamCreate", created);
    return {};
  }

 private:
  // Gathers one int64 per rank (the sizes of an uneven all-gather) through a device buffer.
  Status exchange_sizes(int64_t mine, std::vector<int64_t>& sizes) {
    if (scratch_ == nullptr) {
      cudaError_t result = cudaMalloc(&scratch_, static_cast<size_t>(world_) * sizeof(int64_t));
      if (result != cudaSuccess) return cuda_error("cudaMalloc (all_gather sizes)", result);
    }
    Status status = run("all_gather (sizes)", [&] {
      cudaMemcpyAsync(static_cast<int64_t*>(scratch_) + rank_, &mine, sizeof(int64_t), cudaMemcpyHostToDevice, stream_);
      return ncclAllGather(static_cast<int64_t*>(scratch_) + rank_, scratch_, 1, ncclInt64, comm_, stream_);
    });
    if (!status) return status;
    cudaError_t copied = cudaMemcpy(sizes.data(), scratch_, sizes.size() * sizeof(int64_t), cudaMemcpyDeviceToHost);
    if (copied != cudaSuccess) return cuda_error("reading all_gather sizes", copied);
    return {};
  }

  // Orders the op after the backend's queued work, enqueues it, and waits for it with a
  // deadline, checking NCCL's asynchronous error and the group's state while it waits.
  template <class Enqueue>
  Status run(const char* op, Enqueue&& enqueue) {
    if (!failure_.empty() || group_->failed) return fail(str(op, ": the group has already failed"));
    cudaSetDevice(device_);
    backend_.synchronize();
    ncclResult_t queued = enqueue();
    if (queued != ncclSuccess) return fail(str(op, ": ", ncclGetErrorString(queued)));
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
      cudaError_t done = cudaStreamQuery(stream_);
      if (done == cudaSuccess) return {};
      if (done != cudaErrorNotReady) return fail(str(op, ": ", cudaGetErrorString(done)));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress) return fail(str(op, ": ", ncclGetErrorString(async)));
      if (group_->failed) return fail(str(op, ": another rank of the group failed"));
      if (std::chrono::steady_clock::now() > deadline) {
        return fail(str(op, " timed out after ", timeout_.count(), " ms on rank ", rank_, " of ", world_,
                        " (a peer never joined)"));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  Error fail(const std::string& what) {
    if (failure_.empty()) failure_ = what;
    group_->failed = true;
    ncclCommAbort(comm_);  // unblocks the kernels of this rank; peers see group_->failed
    comm_ = nullptr;
    return make_error(ErrorCode::kInternal, str("communicator: ", failure_));
  }

  ncclComm_t comm_;
  int rank_, world_, device_;
  Backend& backend_;
  std::shared_ptr<GroupState> group_;
  std::chrono::milliseconds timeout_;
  cudaStream_t stream_ = nullptr;
  void* scratch_ = nullptr;  // int64 [world]
  std::string failure_;
};

}  // namespace

Result<int> nccl_visible_devices() {
  int n_devices = 0;
  cudaError_t counted = cudaGetDeviceCount(&n_devices);
  if (counted == cudaErrorNoDevice) return 0;
  if (counted != cudaSuccess) return cuda_error("cudaGetDeviceCount", counted);
  return n_devices;
}

Result<std::vector<std::byte>> nccl_unique_id() {
  ncclUniqueId id;
  ncclResult_t made = ncclGetUniqueId(&id);
  if (made != ncclSuccess) return nccl_error("ncclGetUniqueId", made);
  std::vector<std::byte> bytes(sizeof(id));
  std::memcpy(bytes.data(), &id, sizeof(id));
  return bytes;
}

Result<std::unique_ptr<Communicator>> create_nccl_communicator_rank(Backend& backend, const NcclRankOptions& options) {
  if (options.unique_id.size() != sizeof(ncclUniqueId)) {
    return make_error(ErrorCode::kInvalidArgument, str("nccl: the unique id has ", options.unique_id.size(),
                                                       " bytes, expected ", sizeof(ncclUniqueId)));
  }
  int n_devices = 0;
  cudaError_t counted = cudaGetDeviceCount(&n_devices);
  if (counted != cudaSuccess) return cuda_error("cudaGetDeviceCount", counted);
  if (options.device < 0 || options.device >= n_devices) {
    return make_error(ErrorCode::kInvalidArgument, str("nccl: rank ", options.rank, " wants CUDA device ",
                                                       options.device, ", but ", n_devices, " device(s) are visible"));
  }
  cudaError_t set = cudaSetDevice(options.device);
  if (set != cudaSuccess) return cuda_error(str("cudaSetDevice(", options.device, ")"), set);
  ncclUniqueId id;
  std::memcpy(&id, options.unique_id.data(), sizeof(id));
  ncclComm_t comm = nullptr;
  ncclResult_t init = ncclCommInitRank(&comm, options.world, id, options.rank);
  if (init != ncclSuccess) return nccl_error(str("ncclCommInitRank (rank ", options.rank, " of ", options.world, ")"), init);
  // The group state is this process's alone: peers in other processes learn of a failure from
  // the launcher (the executor aborts the whole job).
  auto comm_rank = std::make_unique<NcclCommunicator>(comm, options.rank, options.world, options.device, backend,
                                                      std::make_shared<GroupState>(), options.timeout);
  Status stream = comm_rank->init_stream();
  if (!stream) return stream.error();
  return std::unique_ptr<Communicator>(std::move(comm_rank));
}

Result<std::vector<std::unique_ptr<Communicator>>> create_nccl_communicators(std::span<Backend* const> backends,
                                                                             const NcclGroupOptions& options) {
  int world = static_cast<int>(backends.size());
  if (static_cast<int>(options.devices.size()) != world) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("nccl: ", world, " ranks but ", options.devices.size(), " devices"));
  }
  int n_devices = 0;
  cudaError_t counted = cudaGetDeviceCount(&n_devices);
  if (counted != cudaSuccess) return cuda_error("cudaGetDeviceCount", counted);
  for (size_t i = 0; i < options.devices.size(); ++i) {
    int device = options.devices[i];
    if (device < 0 || device >= n_devices) {
      return make_error(ErrorCode::kInvalidArgument, str("nccl: rank ", i, " wants CUDA device ", device, ", but ",
                                                         n_devices, " device(s) are visible"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (options.devices[j] == device) {
        return make_error(ErrorCode::kInvalidArgument,
                          str("nccl: ranks ", j, " and ", i, " both on device ", device,
                              " (NCCL needs one rank per GPU; use the host-staged thread communicator)"));
      }
    }
  }
  std::vector<ncclComm_t> comms(static_cast<size_t>(world));
  ncclResult_t init = ncclCommInitAll(comms.data(), world, options.devices.data());
  if (init != ncclSuccess) return nccl_error("ncclCommInitAll", init);
  auto group = std::make_shared<GroupState>();
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (int r = 0; r < world; ++r) {
    auto comm = std::make_unique<NcclCommunicator>(comms[static_cast<size_t>(r)], r, world,
                                                   options.devices[static_cast<size_t>(r)], *backends[r], group,
                                                   options.timeout);
    Status stream = comm->init_stream();
    if (!stream) return stream.error();
    ranks.push_back(std::move(comm));
  }
  return ranks;
}

}  // namespace llm
