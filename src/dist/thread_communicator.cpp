#include "dist/thread_communicator.h"

#include <condition_variable>
#include <cstring>
#include <mutex>

#include "dist/partition.h"
#include "util/str.h"

namespace llm {
namespace {

// What one rank brings to the current collective: its op and its staged bytes.
struct Contribution {
  const char* op = "";
  int64_t bytes = 0;
  const std::byte* data = nullptr;
  int root = 0;
};

// State shared by the ranks of a group. A collective is two meetings: at the first every rank
// has staged its input (so all may read all of them); at the second every rank is done reading
// (so staging buffers and the shared result may be reused by the next collective).
class ThreadGroup {
 public:
  ThreadGroup(int world, std::chrono::milliseconds timeout)
      : world_(world), timeout_(timeout), slots_(static_cast<size_t>(world)), present_(static_cast<size_t>(world)) {}

  int world() const { return world_; }
  const Contribution& slot(int rank) const { return slots_[static_cast<size_t>(rank)]; }
  std::vector<std::byte>& result() { return result_; }

  // Blocks until every rank has arrived, the group fails, or the timeout passes. The last rank
  // to arrive checks that all brought the same collective (else the group fails: ranks that
  // disagree would corrupt each other's data) and sizes the shared result.
  Status meet(int rank, uint64_t sequence, const Contribution& mine, bool sizes_must_match) {
    std::unique_lock lock(mutex_);
    if (!failure_.empty()) return failed();
    slots_[static_cast<size_t>(rank)] = mine;
    present_[static_cast<size_t>(rank)] = true;
    uint64_t generation = generation_;
    if (++arrived_ == world_) {
      arrived_ = 0;
      ++generation_;
      std::fill(present_.begin(), present_.end(), false);
      check_agreement(sequence, sizes_must_match);
      if (failure_.empty() && result_.size() < static_cast<size_t>(mine.bytes)) {
        result_.resize(static_cast<size_t>(mine.bytes));  // nobody reads it between collectives
      }
      ready_.notify_all();
      return failure_.empty() ? Status{} : failed();
    }
    bool met = ready_.wait_for(lock, timeout_, [&] { return generation_ != generation || !failure_.empty(); });
    if (!failure_.empty()) return failed();
    if (met) return {};
    std::string missing;
    for (int r = 0; r < world_; ++r) {
      if (!present_[static_cast<size_t>(r)]) missing += str(missing.empty() ? "" : ", ", r);
    }
    failure_ = str(mine.op, " (collective #", sequence, ") timed out after ", timeout_.count(), " ms: rank(s) ",
                   missing, " of ", world_, " never arrived");
    ready_.notify_all();
    return failed();
  }

  void abort(int rank, const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (failure_.empty()) failure_ = str("rank ", rank, " aborted the group: ", reason);
    ready_.notify_all();
  }

 private:
  void check_agreement(uint64_t sequence, bool sizes_must_match) {
    const Contribution& first = slots_[0];
    for (int r = 1; r < world_; ++r) {
      const Contribution& other = slots_[static_cast<size_t>(r)];
      if (std::strcmp(other.op, first.op) != 0 || other.root != first.root ||
          (sizes_must_match && other.bytes != first.bytes)) {
        failure_ = str("collective #", sequence, ": rank 0 called ", first.op, " (", first.bytes, " bytes, root ",
                       first.root, ") but rank ", r, " called ", other.op, " (", other.bytes, " bytes, root ",
                       other.root, ")");
        return;
      }
    }
  }
  Error failed() const { return make_error(ErrorCode::kInternal, str("communicator: ", failure_)); }

  const int world_;
  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable ready_;
  uint64_t generation_ = 0;
  int arrived_ = 0;
  std::vector<Contribution> slots_;  // [world]
  std::vector<bool> present_;        // [world]: arrived at the current meeting
  std::vector<std::byte> result_;    // all_reduce_sum's sum, written slice by slice
  std::string failure_;              // non-empty once the group has failed, forever
};

class ThreadCommunicator final : public Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<ThreadGroup> group, int rank, Backend& backend)
      : group_(std::move(group)), rank_(rank), backend_(backend) {}

  int rank() const override { return rank_; }
  int world_size() const override { return group_->world(); }
  std::string name() const override { return "threads (host-staged)"; }

  Status all_reduce_sum(TensorView x) override {
    LLM_CHECK(x.dtype == DType::kF32, "all_reduce_sum: f32 only, got ", dtype_name(x.dtype));
    Contribution mine = stage("all_reduce_sum", x);
    Status status = group_->meet(rank_, ++sequence_, mine, /*sizes_must_match=*/true);
    if (!status) return status;
    // Each rank sums its slice of the elements over all ranks, always in rank order, so the
    // result does not depend on timing.
    int64_t n = x.numel();
    Range slice = split_range(n, world_size(), rank_);
    auto* sum = reinterpret_cast<float*>(group_->result().data());
    for (int r = 0; r < world_size(); ++r) {
      const auto* part = reinterpret_cast<const float*>(group_->slot(r).data);
      if (r == 0) {
        std::memcpy(sum + slice.begin, part + slice.begin, static_cast<size_t>(slice.size()) * sizeof(float));
        continue;
      }
      for (int64_t i = slice.begin; i < slice.end; ++i) sum[i] += part[i];
    }
    status = group_->meet(rank_, sequence_, mine, true);  // every slice is summed
    if (!status) return status;
    // The next collective's first meeting waits for this copy, so the result stays intact.
    backend_.copy_from_host(x, group_->result().data());
    return {};
  }

  Status all_gather(TensorView in, TensorView out) override {
    LLM_CHECK(in.dtype == out.dtype, "all_gather: in ", dtype_name(in.dtype), ", out ", dtype_name(out.dtype));
    Contribution mine = stage("all_gather", in);
    Status status = group_->meet(rank_, ++sequence_, mine, /*sizes_must_match=*/false);
    if (!status) return status;
    int64_t total = 0;
    for (int r = 0; r < world_size(); ++r) total += group_->slot(r).bytes;
    if (total != out.bytes()) {
      group_->abort(rank_, str("all_gather: the ranks bring ", total, " bytes, rank ", rank_, "'s output holds ",
                               out.bytes()));
      return group_->meet(rank_, sequence_, mine, false);
    }
    gathered_.resize(static_cast<size_t>(total));
    int64_t offset = 0;
    for (int r = 0; r < world_size(); ++r) {
      const Contribution& part = group_->slot(r);
      if (part.bytes > 0) std::memcpy(gathered_.data() + offset, part.data, static_cast<size_t>(part.bytes));
      offset += part.bytes;
    }
    status = group_->meet(rank_, sequence_, mine, false);  // every rank has read every part
    if (!status) return status;
    backend_.copy_from_host(out, gathered_.data());
    return {};
  }

  Status broadcast(TensorView x, int root) override {
    LLM_CHECK(root >= 0 && root < world_size(), "broadcast root ", root, " of ", world_size());
    Contribution mine = stage("broadcast", x);
    mine.root = root;
    Status status = group_->meet(rank_, ++sequence_, mine, true);
    if (!status) return status;
    if (rank_ != root) backend_.copy_from_host(x, group_->slot(root).data);
    return group_->meet(rank_, sequence_, mine, true);
  }

  Status barrier() override {
    return group_->meet(rank_, ++sequence_, Contribution{.op = "barrier"}, true);
  }

  void abort(const std::string& reason) override { group_->abort(rank_, reason); }

 private:
  Contribution stage(const char* op, TensorView x) {
    staging_.resize(static_cast<size_t>(x.bytes()));
    if (x.bytes() > 0) backend_.copy_to_host(staging_.data(), x);
    return Contribution{.op = op, .bytes = x.bytes(), .data = staging_.data()};
  }

  std::shared_ptr<ThreadGroup> group_;
  int rank_;
  Backend& backend_;
  uint64_t sequence_ = 0;
  std::vector<std::byte> staging_;   // this rank's input, read by every rank during a collective
  std::vector<std::byte> gathered_;  // all_gather's output on the host
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> create_thread_communicators(std::span<Backend* const> backends,
                                                                       const ThreadGroupOptions& options) {
  LLM_CHECK(!backends.empty(), "a thread group needs at least one rank");
  auto group = std::make_shared<ThreadGroup>(static_cast<int>(backends.size()), options.timeout);
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (size_t r = 0; r < backends.size(); ++r) {
    ranks.push_back(std::make_unique<ThreadCommunicator>(group, static_cast<int>(r), *backends[r]));
  }
  return ranks;
}

}  // namespace llm
