// ParallelExecutor: a ModelRunner over tensor-parallel ranks and pipeline stages. Rank
// (stage s, tp rank r) is global rank s * tp + r, with its own backend, worker thread and
// shard; the ranks of a stage share a communicator group. A step runs stage by stage: every rank
// of the stage gets the same inputs, the TP collectives happen inside the forward pass, and the
// stage's residual stream goes to the next stage through the host. Rank 0 of the last stage
// returns the logits (every rank of that stage holds the same).
//
// Under mpirun (options.processes), each process hosts one global rank (its MPI rank): the
// stage's communicator spans the stage's processes (MPI host-staged, or NCCL bootstrapped by
// MPI), and after each stage its tp rank 0 broadcasts the stage's output to every process, so
// every process holds the logits and runs the same engine loop. Any failure aborts the job.
//
// When any rank fails (a collective timed out, NCCL reported an error, a peer vanished), the
// executor aborts that stage's group so no rank waits for its timeout, and every later step
// fails with the first error: the engine stops and the CLI exits non-zero.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dist/communicator_registry.h"
#include "model/llama/llama_model.h"
#include "model/rank_worker.h"

namespace llm {

struct ParallelExecutorOptions {
  ParallelLayout layout;
  KvCacheOptions kv;  // per rank (each holds its layers and kv heads of every block)
  // Makes global rank i's backend; called on that rank's worker thread.
  std::function<Result<std::unique_ptr<Backend>>(int rank)> make_backend;
  CommunicatorKind communicator = CommunicatorKind::kThreads;
  std::vector<int> devices;                   // kNccl: the device of each global rank (processes: of this one)
  std::shared_ptr<ProcessGroup> processes;    // set under mpirun: one rank per process, tp * pp processes
  std::chrono::milliseconds collective_timeout{60'000};
};

class ParallelExecutor final : public ModelRunner {
 public:
  static Result<std::unique_ptr<ParallelExecutor>> create(const LoadedModel& model,
                                                          const ParallelExecutorOptions& options);
  ~ParallelExecutor() override;

  const LlamaConfig& config() const override { return config_; }
  Status forward(const ForwardBatch& batch, std::vector<float>& logits) override;

  int world_size() const { return static_cast<int>(ranks_.size()); }
  const LlamaModel& rank_model(int rank) const { return *ranks_[static_cast<size_t>(rank)]->model; }
  std::string communicator_name() const;

 private:
  struct Rank {
    int tp_rank = 0;
    int stage = 0;
    std::unique_ptr<Backend> backend;
    std::unique_ptr<Communicator> comm;
    std::unique_ptr<LlamaModel> model;
    std::unique_ptr<RankWorker> worker;  // declared last: stopped (joined) before the rest is freed
  };
  explicit ParallelExecutor(const LlamaConfig& config, const ParallelLayout& layout)
      : config_(config), layout_(layout) {}
  static Result<std::unique_ptr<ParallelExecutor>> create_ranks(const LoadedModel& model,
                                                                const ParallelExecutorOptions& options);
  Status create_stage_groups(const ParallelExecutorOptions& options);
  Status create_process_stage_group(const ParallelExecutorOptions& options);
  // Runs task(rank) on every rank of `stage` (all stages when stage < 0) and waits for all. On
  // the first failure the stage's group is aborted so the others return promptly.
  Status run_on_ranks(int stage, const std::function<Status(Rank&)>& task);

  LlamaConfig config_;
  ParallelLayout layout_;
  std::shared_ptr<ProcessGroup> processes_;      // null: every rank in this process
  std::unique_ptr<ProcessGroup> stage_processes_;  // processes: this rank's stage
  std::vector<std::unique_ptr<Rank>> ranks_;  // [pp * tp], stage-major; processes: this process's one
  std::mutex failure_mutex_;
  std::optional<Error> failure_;  // the first error: the executor is dead after it
};

}  // namespace llm
