#include "model/parallel_executor.h"

#include <condition_variable>

#include "util/log.h"
#include "util/str.h"

namespace llm {

Result<std::unique_ptr<ParallelExecutor>> ParallelExecutor::create(const LoadedModel& model,
                                                                   const ParallelExecutorOptions& options) {
  Result<std::unique_ptr<ParallelExecutor>> made = create_ranks(model, options);
  // A process that gives up leaves its peers in a blocking MPI call: take the job down.
  if (!made && options.processes) options.processes->abort(made.error().message);
  return made;
}

Result<std::unique_ptr<ParallelExecutor>> ParallelExecutor::create_ranks(const LoadedModel& model,
                                                                         const ParallelExecutorOptions& options) {
  const ParallelLayout& layout = options.layout;
  Status valid = validate_parallel_layout(model.config, model.sources, layout);
  if (!valid) return valid.error();
  const int world = layout.tensor_parallel * layout.pipeline_parallel;
  if (options.communicator == CommunicatorKind::kNccl && !options.processes &&
      static_cast<int>(options.devices.size()) != world) {
    return make_error(ErrorCode::kInvalidArgument, str("nccl: ", world, " ranks (tp ", layout.tensor_parallel,
                                                       " x pp ", layout.pipeline_parallel, ") but ",
                                                       options.devices.size(), " devices"));
  }
  if (options.processes && options.processes->size() != world) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("mpi: ", options.processes->size(), " processes but tp ", layout.tensor_parallel, " x pp ",
                          layout.pipeline_parallel, " = ", world, " ranks (one rank per process)"));
  }
  std::unique_ptr<ParallelExecutor> self(new ParallelExecutor(model.config, layout));
  self->processes_ = options.processes;
  for (int i = 0; i < world; ++i) {
    if (options.processes && i != options.processes->rank()) continue;  // another process's rank
    auto rank = std::make_unique<Rank>();
    rank->stage = i / layout.tensor_parallel;
    rank->tp_rank = i % layout.tensor_parallel;
    rank->worker = std::make_unique<RankWorker>();
    self->ranks_.push_back(std::move(rank));
  }
  // Backends are made on their ranks' threads (a device belongs to the thread that drives it).
  Status status = self->run_on_ranks(-1, [&](Rank& rank) -> Status {
    Result<std::unique_ptr<Backend>> backend =
        options.make_backend(rank.stage * layout.tensor_parallel + rank.tp_rank);  // the global rank
    if (!backend) return backend.error();
    rank.backend = std::move(*backend);
    return {};
  });
  if (!status) return status.error();
  status = self->processes_ ? self->create_process_stage_group(options) : self->create_stage_groups(options);
  if (!status) return status.error();
  // Each rank builds its own shard from the checkpoint, in parallel.
  status = self->run_on_ranks(-1, [&](Rank& rank) -> Status {
    Result<std::unique_ptr<LlamaModel>> shard = LlamaModel::create_rank(
        RankContext{.backend = *rank.backend, .comm = *rank.comm, .layout = layout, .tp_rank = rank.tp_rank,
                    .pp_stage = rank.stage},
        model, options.kv);
    if (!shard) return shard.error();
    rank.model = std::move(*shard);
    return {};
  });
  if (!status) return status.error();
  log_info("parallel executor: tp ", layout.tensor_parallel, " x pp ", layout.pipeline_parallel, " on ",
           self->ranks_[0]->backend->name(), ", communicator ", self->communicator_name());
  return self;
}

Status ParallelExecutor::create_stage_groups(const ParallelExecutorOptions& options) {
  const ParallelLayout& layout = options.layout;
  for (int stage = 0; stage < layout.pipeline_parallel; ++stage) {
    std::vector<Backend*> backends;
    std::vector<int> devices;
    for (int r = 0; r < layout.tensor_parallel; ++r) {
      int global = stage * layout.tensor_parallel + r;
      backends.push_back(ranks_[static_cast<size_t>(global)]->backend.get());
      if (!options.devices.empty()) devices.push_back(options.devices[static_cast<size_t>(global)]);
    }
    Result<std::vector<std::unique_ptr<Communicator>>> group = create_communicator_group(
        backends, CommunicatorGroupOptions{.kind = options.communicator, .devices = devices,
                                           .timeout = options.collective_timeout});
    if (!group) return group.error();
    for (int r = 0; r < layout.tensor_parallel; ++r) {
      ranks_[static_cast<size_t>(stage * layout.tensor_parallel + r)]->comm = std::move((*group)[static_cast<size_t>(r)]);
    }
  }
  return {};
}

// Collective over every process: each joins its stage's group, then the stage's communicator.
Status ParallelExecutor::create_process_stage_group(const ParallelExecutorOptions& options) {
  Rank& rank = *ranks_[0];
  Result<std::unique_ptr<ProcessGroup>> stage = processes_->split(/*color=*/rank.stage, /*key=*/rank.tp_rank);
  if (!stage) return stage.error();
  stage_processes_ = std::move(*stage);
  // Made on the rank's thread: NCCL binds the communicator to the thread's device.
  return run_on_ranks(-1, [&](Rank& member) -> Status {
    Result<std::unique_ptr<Communicator>> comm = create_process_communicator(
        *stage_processes_, *member.backend,
        ProcessCommunicatorOptions{.kind = options.communicator,
                                   .device = options.devices.empty() ? 0 : options.devices[0],
                                   .timeout = options.collective_timeout});
    if (!comm) return comm.error();
    member.comm = std::move(*comm);
    return {};
  });
}

ParallelExecutor::~ParallelExecutor() {
  // Workers are idle between steps; destroying a Rank joins its worker before its model goes.
  ranks_.clear();
}

std::string ParallelExecutor::communicator_name() const {
  return ranks_.empty() || !ranks_[0]->comm ? "none" : ranks_[0]->comm->name();
}

Status ParallelExecutor::run_on_ranks(int stage, const std::function<Status(Rank&)>& task) {
  {
    std::lock_guard lock(failure_mutex_);
    if (failure_) return *failure_;
  }
  std::vector<Rank*> members;
  for (auto& rank : ranks_) {
    if (stage < 0 || rank->stage == stage) members.push_back(rank.get());
  }
  std::mutex mutex;
  std::condition_variable done;
  size_t finished = 0;
  std::optional<Error> first;
  for (Rank* rank : members) {
    rank->worker->post([&, rank] {
      Status status = task(*rank);
      std::lock_guard lock(mutex);
      if (!status && !first) {
        first = make_error(status.error().code, str("rank ", rank->stage * layout_.tensor_parallel + rank->tp_rank,
                                                    " (tp ", rank->tp_rank, ", stage ", rank->stage, "): ",
                                                    status.error().message));
        // Wake the rank's peers now rather than at their timeout.
        if (rank->comm) rank->comm->abort(first->message);
      }
      ++finished;
      done.notify_all();
    });
  }
  // Bounded: every blocking wait inside a task is a collective with a timeout.
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return finished == members.size(); });
  if (!first) return {};
  std::lock_guard failure_lock(failure_mutex_);
  if (!failure_) failure_ = *first;
  return *first;
}

Status ParallelExecutor::forward(const ForwardBatch& batch, std::vector<float>& logits) {
  const int tp = layout_.tensor_parallel;
  std::vector<float> hidden;  // [n_tokens, dim] between stages
  std::vector<std::vector<float>> outputs(static_cast<size_t>(tp));
  for (int stage = 0; stage < layout_.pipeline_parallel; ++stage) {
    Status status = run_on_ranks(stage, [&](Rank& rank) {
      return rank.model->forward_stage(batch, hidden, outputs[static_cast<size_t>(rank.tp_rank)]);
    });
    if (!processes_) {
      if (!status) return status;
      hidden = std::move(outputs[0]);  // every rank of the stage holds the same
      continue;
    }
    // Between processes: the stage's tp rank 0 hands its output to every process.
    if (!status) processes_->abort(status.error().message);
    const Rank& mine = *ranks_[0];
    if (mine.stage == stage) hidden = std::move(outputs[static_cast<size_t>(mine.tp_rank)]);
    if (layout_.pipeline_parallel == 1) continue;  // every process ran the one stage
    status = processes_->broadcast_floats(hidden, /*root=*/stage * tp);
    if (!status) processes_->abort(str("stage ", stage, " hand-off: ", status.error().message));
  }
  logits = std::move(hidden);
  return {};
}

}  // namespace llm
