// --tp N|auto, --pp N, --devices 0,1,... for `llama run`, `llama bench` (and later the server):
// how many ranks, on which devices, and the ModelRunner that drives them.
//   --device cpu --tp N   N CPU ranks on the thread communicator (the GPU code path minus NCCL)
//   --device cuda --tp N  N GPU ranks; NCCL when every rank has its own GPU, else host-staged
//   --tp auto             every visible GPU (1 on the CPU)
//   --launcher auto|threads|mpi  mpi: one rank per process of an mpirun job (tp x pp processes;
//                         a GPU each, by local rank); auto: mpi when run by mpirun with >1 process
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "dist/process_group.h"
#include "model/kv_sizing.h"
#include "model/llama/llama_model.h"
#include "model/tensor_parallel.h"

namespace llm {

struct ParallelArgs {
  std::string device = "cpu";  // --device
  int n_threads = 0;           // --threads, shared by the CPU ranks
  ParallelLayout layout;
  std::vector<int> devices;    // cuda: the device of each rank (stage-major)
  bool tp_auto = false;
  int collective_timeout_seconds = 60;  // --collective-timeout: a hung collective fails after this
  std::shared_ptr<ProcessGroup> processes;  // --launcher mpi: the job's processes (MPI stays up while held)

  // Only one process of an mpirun job prints the output.
  bool is_output_rank() const { return !processes || processes->rank() == 0; }
};

// The option names to add to a command's ArgSpec.
inline const char* const kParallelOptions[] = {"--tp", "--pp", "--devices", "--collective-timeout", "--launcher"};

Result<ParallelArgs> parse_parallel_args(const Args& args, const std::string& device, int n_threads);

struct ModelRunnerSetup {
  std::unique_ptr<ModelRunner> runner;
  int32_t kv_blocks = 0;       // the KV pool's size, in blocks of kv.block_size tokens
  std::string kv_explanation;  // why that size (empty when the caller fixed it)
};

// A LlamaModel on one device for TP=1, PP=1 without --devices; a ParallelExecutor otherwise.
// The error names the model's valid sizes when the layout does not fit it. kv.n_blocks > 0 fixes
// the KV pool; 0 sizes it from `sizing`: on one GPU from the memory left after the weights and a
// profiling step, elsewhere (CPU, several ranks) as sizing.blocks_wanted.
Result<ModelRunnerSetup> create_model_runner(const LoadedModel& model, const ParallelArgs& parallel,
                                             const KvCacheOptions& kv, const KvSizingOptions& sizing,
                                             std::unique_ptr<Backend>& backend);

}  // namespace llm
