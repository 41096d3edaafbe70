// llama-loadgen --bench: a serving benchmark in the shape of vLLM's `benchmark_serving.py` with a
// ShareGPT-like workload, for models without a tokenizer (token-id prompts, so synthetic models
// work). N requests go out through C workers (closed loop: a worker sends its next request when
// the last one ended); each streams from /v1/completions with `ignore_eos` and `max_tokens` set, so
// every request generates exactly its target length.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client.h"

namespace loadgen {

// A length distribution: log-normal (median, sigma of the log), rounded and clipped to [min, max].
struct LengthDistribution {
  double median = 0;
  double sigma = 0;
  int32_t min = 1;
  int32_t max = 1;
};

struct WorkloadOptions {
  int32_t requests = 1000;
  uint64_t seed = 0;
  // ShareGPT's first turns average ~202 prompt and ~179 reply tokens (vLLM v0.6 blog); these
  // medians and sigmas give means of ~207 and ~179 before clipping; the clips are vLLM's filters.
  LengthDistribution input{.median = 150, .sigma = 0.8, .min = 4, .max = 1024};
  LengthDistribution output{.median = 130, .sigma = 0.8, .min = 4, .max = 512};
  int32_t vocab_size = 0;      // prompt ids are uniform in [0, vocab_size)
  int32_t context_length = 0;  // outputs are shortened so that prompt + output <= this (0: no limit)
};

struct WorkItem {
  std::vector<int32_t> prompt;
  int32_t output_tokens = 0;
};

// Deterministic for a given options.seed (splitmix64 + Box-Muller, no std:: distributions).
std::vector<WorkItem> make_sharegpt_like_workload(const WorkloadOptions& options);

struct BenchOptions {
  Target target;
  std::string model;
  int32_t concurrency = 64;
  int32_t warmup_requests = 2;  // short requests before the clock starts (not counted)
  WorkloadOptions workload;
  std::string json_path;  // "-": stdout
};

// Runs the benchmark and prints a summary; returns the process exit status (0: no failures).
int run_serving_bench(BenchOptions options);

}  // namespace loadgen
