#include "cli/parallel_args.h"

#include <algorithm>
#include <chrono>

#include "backend/registry.h"
#include "dist/communicator_registry.h"
#include "model/parallel_executor.h"
#include "util/str.h"
#include "util/thread_pool.h"

namespace llm {
namespace {

Error invalid(const std::string& what) { return make_error(ErrorCode::kInvalidArgument, what); }

bool is_cuda(const std::string& device) { return device.rfind("cuda", 0) == 0; }

// One rank per process: the world must be tp x pp processes; a GPU rank uses the GPU of its
// local rank on the node (or --devices[local rank]).
Result<ParallelArgs> with_processes(ParallelArgs out, int world) {
  Result<std::shared_ptr<ProcessGroup>> processes =
      create_process_world(std::chrono::seconds(out.collective_timeout_seconds));
  if (!processes) return processes.error();
  out.processes = std::move(*processes);
  if (out.processes->size() != world) {
    out.processes->abort(str("mpirun started ", out.processes->size(), " processes, but --tp ",
                             out.layout.tensor_parallel, " x --pp ", out.layout.pipeline_parallel, " needs ", world,
                             " (one rank per process)"));
  }
  if (is_cuda(out.device)) {
    int local = out.processes->local_rank();
    if (!out.devices.empty() && local >= static_cast<int>(out.devices.size())) {
      out.processes->abort(str("--devices lists ", out.devices.size(), " devices, but this node runs ",
                               out.processes->local_size(), " processes"));
    }
    out.devices = {out.devices.empty() ? local : out.devices[static_cast<size_t>(local)]};
  }
  return out;
}

}  // namespace

Result<ParallelArgs> parse_parallel_args(const Args& args, const std::string& device, int n_threads) {
  ParallelArgs out{.device = device, .n_threads = n_threads};
  Result<int64_t> pp = args.integer("--pp", 1, 1, 4096);
  if (!pp) return pp.error();
  Result<int64_t> timeout = args.integer("--collective-timeout", 60, 1, 86400);
  if (!timeout) return timeout.error();
  out.collective_timeout_seconds = static_cast<int>(*timeout);
  out.layout.pipeline_parallel = static_cast<int>(*pp);
  std::optional<std::string> devices = args.value("--devices");
  if (devices && !is_cuda(device)) {
    return invalid(str("--devices ", *devices, ": device indices select GPUs; with --device ", device,
                       ", --tp N and --pp N run N CPU ranks"));
  }
  if (devices) {
    Result<std::vector<int32_t>> list = parse_token_list(*devices, "--devices");
    if (!list) return list.error();
    if (list->empty()) return invalid("--devices: an empty list");
    out.devices.assign(list->begin(), list->end());
  }
  std::string tp = args.value("--tp").value_or(devices ? "" : "1");
  if (tp == "auto") {
    out.tp_auto = true;
    if (!is_cuda(device)) {
      out.layout.tensor_parallel = 1;  // one CPU, one memory: a single rank with every thread
    } else {
      Result<int> visible = visible_cuda_devices();
      if (!visible) return visible.error();
      if (*visible == 0) return invalid("--tp auto: no CUDA device is visible");
      out.layout.tensor_parallel = std::max(1, *visible / out.layout.pipeline_parallel);
    }
  } else if (tp.empty()) {  // --devices alone: one rank per listed device
    if (out.devices.size() % static_cast<size_t>(out.layout.pipeline_parallel) != 0) {
      return invalid(str("--devices lists ", out.devices.size(), " devices, not a multiple of --pp ",
                         out.layout.pipeline_parallel));
    }
    out.layout.tensor_parallel = static_cast<int>(out.devices.size()) / out.layout.pipeline_parallel;
  } else {
    Result<int64_t> n = args.integer("--tp", 1, 1, 4096);
    if (!n) return make_error(n.error().code, n.error().message + " (or auto)");
    out.layout.tensor_parallel = static_cast<int>(*n);
  }
  const int world = out.layout.tensor_parallel * out.layout.pipeline_parallel;
  std::string launcher = args.value("--launcher").value_or("auto");
  if (launcher != "auto" && launcher != "threads" && launcher != "mpi") {
    return invalid(str("--launcher ", launcher, ": expected auto, threads or mpi"));
  }
  if (launcher == "mpi" || (launcher == "auto" && launched_by_mpi())) {
    return with_processes(std::move(out), world);
  }
  if (is_cuda(device)) {
    if (out.devices.empty()) {
      for (int i = 0; i < world; ++i) out.devices.push_back(i);
    }
    if (static_cast<int>(out.devices.size()) != world) {
      return invalid(str("--tp ", out.layout.tensor_parallel, " x --pp ", out.layout.pipeline_parallel, " needs ",
                         world, " devices, --devices lists ", out.devices.size()));
    }
    if (world > 1 || devices) {
      Result<int> visible = visible_cuda_devices();
      if (visible) {
        for (int d : out.devices) {
          if (d < 0 || d >= *visible) {
            return invalid(str("device ", d, " does not exist: ", *visible, " CUDA device(s) are visible (0 to ",
                               *visible - 1, ")"));
          }
        }
      }
    }
  }
  return out;
}

Result<ModelRunnerSetup> create_model_runner(const LoadedModel& model, const ParallelArgs& parallel,
                                             const KvCacheOptions& kv_in, const KvSizingOptions& sizing,
                                             std::unique_ptr<Backend>& backend) {
  const ParallelLayout& layout = parallel.layout;
  const int world = layout.tensor_parallel * layout.pipeline_parallel;
  Status valid = validate_parallel_layout(model.config, model.sources, layout);
  if (!valid) return valid.error();
  if (world == 1 && !parallel.processes) {
    Result<std::unique_ptr<Backend>> made = create_backend(BackendOptions{
        .device = parallel.device,
        .n_threads = parallel.n_threads,
        .device_index = parallel.devices.empty() ? 0 : parallel.devices[0]});
    if (!made) return made.error();
    backend = std::move(*made);
    Result<std::unique_ptr<LlamaModel>> runner = LlamaModel::create(*backend, model, kv_in);
    if (!runner) return runner.error();
    ModelRunnerSetup setup{.kv_blocks = kv_in.n_blocks};
    if (kv_in.n_blocks == 0) {
      Result<KvBudget> budget = size_and_allocate_kv(**runner, *backend, sizing);
      if (!budget) return budget.error();
      setup.kv_blocks = static_cast<int32_t>(budget->n_blocks);
      setup.kv_explanation = budget->explanation;
    }
    setup.runner = std::move(*runner);
    return setup;
  }
  // Several ranks: the pool is what the engine asks for (no per-rank profiling yet).
  KvCacheOptions kv = kv_in;
  if (kv.n_blocks == 0) kv.n_blocks = static_cast<int32_t>(std::max(sizing.blocks_wanted, sizing.blocks_required));
  // The CPU ranks share the machine's threads.
  int total_threads = parallel.n_threads > 0 ? parallel.n_threads : default_thread_count();
  int ranks_here = parallel.processes ? parallel.processes->local_size() : world;
  int per_rank = std::max(1, total_threads / ranks_here);
  // NCCL needs one rank per GPU; ranks sharing a GPU (the single-card TP check) are host-staged.
  std::vector<int> sorted = parallel.devices;
  std::sort(sorted.begin(), sorted.end());
  bool distinct = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
  bool nccl = is_cuda(parallel.device) && distinct && nccl_available();
  CommunicatorKind kind = nccl ? CommunicatorKind::kNccl : CommunicatorKind::kThreads;
  if (parallel.processes) kind = nccl ? CommunicatorKind::kNccl : CommunicatorKind::kMpi;
  Result<std::unique_ptr<ParallelExecutor>> executor = ParallelExecutor::create(
      model, ParallelExecutorOptions{
                 .layout = layout,
                 .kv = kv,
                 .make_backend = [&](int rank) {
                   return create_backend(BackendOptions{.device = parallel.device,
                                                        .n_threads = per_rank,
                                                        .device_index = parallel.devices.empty()  ? 0
                                                                        : parallel.processes ? parallel.devices[0]
                                                                                             : parallel.devices[rank]});
                 },
                 .communicator = kind,
                 .devices = parallel.devices,
                 .processes = parallel.processes,
                 .collective_timeout = std::chrono::seconds(parallel.collective_timeout_seconds),
             });
  if (!executor) return executor.error();
  return ModelRunnerSetup{.runner = std::move(*executor), .kv_blocks = kv.n_blocks};
}

}  // namespace llm
