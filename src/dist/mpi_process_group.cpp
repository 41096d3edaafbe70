#include "dist/mpi_process_group.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <thread>

#include "util/str.h"

namespace llm {
namespace {

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return str("MPI error ", code);
  return std::string(text, static_cast<size_t>(length));
}

[[noreturn]] void abort_job(int rank, const std::string& reason) {
  std::fprintf(stderr, "llama: MPI rank %d: aborting the job: %s\n", rank, reason.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; this keeps [[noreturn]] honest
}

// MPI_Init_thread .. MPI_Finalize; shared by the world and every group split from it.
class MpiSession {
 public:
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
};

// Bounded wait on a non-blocking MPI call: MPI itself has no timeout, so a collective that a
// peer never joins would block forever.
class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds timeout) : timeout_(timeout) {}
  Status wait(MPI_Request& request, const std::string& what, int rank, int world) const {
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    auto pause = std::chrono::microseconds(1);
    for (;;) {
      int done = 0;
      int result = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (result != MPI_SUCCESS) return make_error(ErrorCode::kInternal, str(what, ": ", mpi_error_string(result)));
      if (done) return {};
      if (std::chrono::steady_clock::now() > deadline) {
        return make_error(ErrorCode::kInternal, str(what, " timed out after ", timeout_.count(), " ms on rank ", rank,
                                                    " of ", world, " (a peer never joined or is hung)"));
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(200));
    }
  }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  std::chrono::milliseconds timeout_;
};

Status started(int result, const char* what) {
  if (result == MPI_SUCCESS) return {};
  return make_error(ErrorCode::kInternal, str(what, ": ", mpi_error_string(result)));
}

// One rank per process; every collective stages the rank's tensor on the host, runs the
// non-blocking MPI collective under a deadline and copies the result back. all_reduce_sum is an
// all-gather followed by a sum in rank order on every process (not MPI_Allreduce, whose
// reduction order MPI leaves open): every rank gets bitwise the same result, the same as the
// thread communicator's.
class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, Backend& backend, std::chrono::milliseconds timeout)
      : comm_(comm), backend_(backend), deadline_(timeout) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &world_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string name() const override { return "mpi (host-staged)"; }

  Status all_reduce_sum(TensorView x) override {
    LLM_CHECK(x.dtype == DType::kF32, "all_reduce_sum: f32 only, got ", dtype_name(x.dtype));
    Status ok = begin("all_reduce_sum", x.numel());
    if (!ok) return ok;
    int count = static_cast<int>(x.numel());
    stage(x);
    gathered_.resize(static_cast<size_t>(x.bytes()) * static_cast<size_t>(world_));
    MPI_Request request;
    ok = collective(MPI_Iallgather(staging_.data(), count, MPI_FLOAT, gathered_.data(), count, MPI_FLOAT, comm_,
                                   &request),
                    request);
    if (!ok) return ok;
    auto* sum = reinterpret_cast<float*>(staging_.data());       // [count]
    const auto* parts = reinterpret_cast<const float*>(gathered_.data());  // [world, count]
    for (int r = 0; r < world_; ++r) {
      const float* part = parts + static_cast<size_t>(r) * static_cast<size_t>(count);
      if (r == 0) {
        std::copy(part, part + count, sum);
        continue;
      }
      for (int i = 0; i < count; ++i) sum[i] += part[i];
    }
    backend_.copy_from_host(x, staging_.data());
    return {};
  }

  Status all_gather(TensorView in, TensorView out) override {
    LLM_CHECK(in.dtype == out.dtype, "all_gather: in ", dtype_name(in.dtype), ", out ", dtype_name(out.dtype));
    Status ok = begin("all_gather", in.bytes());
    if (!ok) return ok;
    int64_t mine = in.bytes();
    std::vector<int64_t> sizes(static_cast<size_t>(world_));  // [world] bytes
    MPI_Request request;
    ok = collective(MPI_Iallgather(&mine, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, comm_, &request), request);
    if (!ok) return ok;
    int64_t total = 0;
    std::vector<int> counts(static_cast<size_t>(world_)), offsets(static_cast<size_t>(world_));
    for (int r = 0; r < world_; ++r) {
      offsets[static_cast<size_t>(r)] = static_cast<int>(total);
      counts[static_cast<size_t>(r)] = static_cast<int>(sizes[static_cast<size_t>(r)]);
      total += sizes[static_cast<size_t>(r)];
    }
    if (total != out.bytes()) {
      return fail(str("all_gather: the ranks bring ", total, " bytes, rank ", rank_, "'s output holds ", out.bytes()));
    }
    if (total > INT_MAX) return fail(str("all_gather: ", total, " bytes exceed MPI's int count"));
    stage(in);
    gathered_.resize(static_cast<size_t>(total));
    ok = collective(MPI_Iallgatherv(staging_.data(), static_cast<int>(mine), MPI_BYTE, gathered_.data(), counts.data(),
                                    offsets.data(), MPI_BYTE, comm_, &request),
                    request);
    if (!ok) return ok;
    backend_.copy_from_host(out, gathered_.data());
    return {};
  }

  Status broadcast(TensorView x, int root) override {
    LLM_CHECK(root >= 0 && root < world_, "broadcast root ", root, " of ", world_);
    Status ok = begin("broadcast", x.bytes());
    if (!ok) return ok;
    stage(x);
    MPI_Request request;
    ok = collective(MPI_Ibcast(staging_.data(), static_cast<int>(x.bytes()), MPI_BYTE, root, comm_, &request),
                    request);
    if (!ok) return ok;
    if (rank_ != root) backend_.copy_from_host(x, staging_.data());
    return {};
  }

  Status barrier() override {
    Status ok = begin("barrier", 0);
    if (!ok) return ok;
    MPI_Request request;
    return collective(MPI_Ibarrier(comm_, &request), request);
  }

  // A rank that cannot go on takes the job down: its peers are (or will be) inside a collective
  // it will never join, and MPI cannot cancel one.
  void abort(const std::string& reason) override { abort_job(world_rank(), reason); }

 private:
  Status begin(const char* op, int64_t size) {
    ++sequence_;
    op_ = op;
    if (!failure_.empty()) return make_error(ErrorCode::kInternal, str("communicator: ", failure_));
    if (size > INT_MAX) return fail(str(op, ": ", size, " elements exceed MPI's int count"));
    return {};
  }
  Status collective(int started_result, MPI_Request& request) {
    Status ok = started(started_result, op_);
    if (ok) ok = deadline_.wait(request, str(op_, " (collective #", sequence_, ")"), rank_, world_);
    if (!ok) return fail(ok.error().message);
    return {};
  }
  Error fail(const std::string& what) {
    if (failure_.empty()) failure_ = what;
    return make_error(ErrorCode::kInternal, str("communicator: ", failure_));
  }
  void stage(TensorView x) {
    staging_.resize(static_cast<size_t>(x.bytes()));
    if (x.bytes() > 0) backend_.copy_to_host(staging_.data(), x);
  }
  static int world_rank() {
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
  }

  MPI_Comm comm_;  // owned by the ProcessGroup that made this
  Backend& backend_;
  Deadline deadline_;
  int rank_ = 0, world_ = 1;
  uint64_t sequence_ = 0;
  const char* op_ = "";
  std::vector<std::byte> staging_;   // this rank's input, then the result
  std::vector<std::byte> gathered_;  // [world, bytes]: every rank's input
  std::string failure_;              // non-empty once a collective failed, forever
};

class MpiProcessGroup final : public ProcessGroup {
 public:
  MpiProcessGroup(std::shared_ptr<MpiSession> session, MPI_Comm comm, std::chrono::milliseconds timeout,
                  int local_rank, int local_size)
      : session_(std::move(session)), comm_(comm), deadline_(timeout), local_rank_(local_rank),
        local_size_(local_size) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiProcessGroup() override { MPI_Comm_free(&comm_); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }

  Status broadcast_floats(std::vector<float>& data, int root) override {
    return broadcast_vector(data, root, MPI_FLOAT);
  }
  Status broadcast_bytes(std::vector<std::byte>& data, int root) override {
    return broadcast_vector(data, root, MPI_BYTE);
  }

  Result<std::unique_ptr<ProcessGroup>> split(int color, int key) override {
    // MPI_Comm_split blocks without a deadline; a bounded barrier first makes sure every process
    // has come this far, so a missing one fails here instead of hanging the job.
    MPI_Request request;
    Status ok = started(MPI_Ibarrier(comm_, &request), "split (barrier)");
    if (ok) ok = deadline_.wait(request, "split: waiting for every process", rank_, size_);
    if (!ok) return ok.error();
    MPI_Comm part = MPI_COMM_NULL;
    int result = MPI_Comm_split(comm_, color, key, &part);
    if (result != MPI_SUCCESS) return make_error(ErrorCode::kInternal, str("MPI_Comm_split: ", mpi_error_string(result)));
    return std::unique_ptr<ProcessGroup>(
        std::make_unique<MpiProcessGroup>(session_, part, deadline_.timeout(), local_rank_, local_size_));
  }

  std::unique_ptr<Communicator> host_staged_communicator(Backend& backend) override {
    return std::make_unique<MpiCommunicator>(comm_, backend, deadline_.timeout());
  }

  [[noreturn]] void abort(const std::string& reason) override {
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    abort_job(rank, reason);
  }

 private:
  template <class T>
  Status broadcast_vector(std::vector<T>& data, int root, MPI_Datatype type) {
    LLM_CHECK(root >= 0 && root < size_, "broadcast root ", root, " of ", size_);
    int64_t count = rank_ == root ? static_cast<int64_t>(data.size()) : 0;
    MPI_Request request;
    Status ok = started(MPI_Ibcast(&count, 1, MPI_INT64_T, root, comm_, &request), "broadcast (size)");
    if (ok) ok = deadline_.wait(request, "process broadcast (size)", rank_, size_);
    if (!ok) return ok;
    if (count > INT_MAX) {
      return make_error(ErrorCode::kInternal, str("process broadcast: ", count, " elements exceed MPI's int count"));
    }
    data.resize(static_cast<size_t>(count));
    ok = started(MPI_Ibcast(data.data(), static_cast<int>(count), type, root, comm_, &request), "broadcast");
    if (ok) ok = deadline_.wait(request, "process broadcast", rank_, size_);
    return ok;
  }

  std::shared_ptr<MpiSession> session_;  // first: finalized after this group's communicator is freed
  MPI_Comm comm_;
  Deadline deadline_;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

}  // namespace

Result<std::shared_ptr<ProcessGroup>> create_mpi_world(const MpiWorldOptions& options) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return make_error(ErrorCode::kInternal, "MPI is already initialized in this process");
  int provided = 0;
  int result = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  if (result != MPI_SUCCESS) return make_error(ErrorCode::kInternal, str("MPI_Init_thread: ", mpi_error_string(result)));
  auto session = std::make_shared<MpiSession>();
  if (provided < MPI_THREAD_SERIALIZED) {
    return make_error(ErrorCode::kUnsupported,
                      str("MPI provides thread level ", provided, ", the ranks need MPI_THREAD_SERIALIZED (",
                          MPI_THREAD_SERIALIZED, ") or more"));
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm world = MPI_COMM_NULL, node = MPI_COMM_NULL;
  result = MPI_Comm_dup(MPI_COMM_WORLD, &world);
  if (result != MPI_SUCCESS) return make_error(ErrorCode::kInternal, str("MPI_Comm_dup: ", mpi_error_string(result)));
  // The processes sharing this node (its GPUs): the local rank picks the device.
  int world_rank = 0, local_rank = 0, local_size = 1;
  MPI_Comm_rank(world, &world_rank);
  result = MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node);
  if (result != MPI_SUCCESS) {
    return make_error(ErrorCode::kInternal, str("MPI_Comm_split_type: ", mpi_error_string(result)));
  }
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_size(node, &local_size);
  MPI_Comm_free(&node);
  return std::shared_ptr<ProcessGroup>(
      std::make_shared<MpiProcessGroup>(std::move(session), world, options.timeout, local_rank, local_size));
}

}  // namespace llm
