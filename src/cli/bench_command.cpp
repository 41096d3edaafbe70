// llama bench [MODEL | --synthetic NAME] [--dtype bf16|f16|f32] [--prompt-lengths 512,2048]
//             [--streams 1,16,64] [--stream-prompt 128] [--stream-generate 128]
//             [--device cpu|cuda] [--threads N] [--repeat N] [--json] [--tp N|auto] [--pp N] [--devices 0,1]
// Validates the device's numerics against the CPU reference on a small synthetic shape, then
// times prefill (one prompt per forward) and batched decode (N sequences per step).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "backend/registry.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/memory_args.h"
#include "cli/parallel_args.h"
#include "engine/step_batch.h"
#include "model/llama/llama_model.h"
#include "model/synthetic.h"
#include "util/json.h"
#include "util/str.h"

namespace llm {
namespace {

const ArgSpec kBenchSpec{
    .options_with_value = {"--synthetic", "--dtype", "--prompt-lengths", "--streams", "--stream-prompt",
                           "--stream-generate", "--device", "--threads", "--repeat", "--tp", "--pp", "--devices",
                           "--collective-timeout", "--launcher", "--kv-dtype", "--prefill-chunk"},
    .flags = {"--json", "--help"},
};

const char* kBenchUsage =
    "usage: llama bench [MODEL | --synthetic NAME] [--dtype bf16|f16|f32] [--prompt-lengths 512,2048]\n"
    "                   [--streams 1,16,64] [--stream-prompt 128] [--stream-generate 128]\n"
    "                   [--device cpu|cuda] [--threads N] [--repeat N] [--json]\n"
    "                   [--tp N|auto] [--pp N] [--devices 0,1,...] [--collective-timeout SECONDS]\n"
    "                   [--launcher auto|threads|mpi] (under mpirun: one rank per process, rank 0 prints)\n"
    "                   [--kv-dtype auto|f32|f16|bf16] [--prefill-chunk N] (prompts in steps of N tokens; 0: one)\n";

int fail(const Error& error) {
  std::fprintf(stderr, "llama bench: %s\n", error.to_string().c_str());
  return 1;
}

// Under mpirun a process that gives up takes the job down (its peers would wait in MPI forever).
int fail_rank(const ParallelArgs& parallel, const Error& error) {
  if (parallel.processes) parallel.processes->abort(str("llama bench: ", error.to_string()));
  return fail(error);
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Fast kernels vs the scalar reference on a small random model: the step's logits must agree.
Result<double> validate_against_reference(Backend& backend) {
  LlamaConfig config = synthetic_config("llama-100m").value();
  config.dim = 128;
  config.n_layers = 2;
  config.n_heads = 4;
  config.n_kv_heads = 2;
  config.head_dim = 32;
  config.ffn_dim = 256;
  config.vocab_size = 512;
  Result<std::unique_ptr<LoadedModel>> loaded = make_synthetic_model(config, SyntheticOptions{.seed = 7});
  if (!loaded) return loaded.error();
  Result<std::unique_ptr<Backend>> reference = create_backend(BackendOptions{.device = "cpu-reference"});
  if (!reference) return reference.error();
  std::vector<int32_t> tokens = {1, 5, 9, 77, 300, 2, 8, 511};
  std::vector<float> logits[2];
  Backend* backends[2] = {&backend, reference->get()};
  for (int i = 0; i < 2; ++i) {
    KvManager kv(4, 4);
    SequenceBlocks blocks;
    kv.reserve(blocks, static_cast<int32_t>(tokens.size()));
    Result<std::unique_ptr<LlamaModel>> model =
        LlamaModel::create(*backends[i], **loaded, KvCacheOptions{.n_blocks = 4, .block_size = 4});
    if (!model) return model.error();
    StepSequence step{.blocks = &blocks, .context = tokens, .begin = 0, .end = static_cast<int32_t>(tokens.size())};
    Status status = (*model)->forward(build_step_batch(kv, std::span<const StepSequence>(&step, 1)), logits[i]);
    if (!status) return status.error();
  }
  double worst = 0;
  for (size_t j = 0; j < logits[0].size(); ++j) {
    double diff = std::fabs(logits[0][j] - logits[1][j]);
    worst = std::isnan(diff) ? INFINITY : std::max(worst, diff);
  }
  if (!(worst <= 1e-3)) {
    return make_error(ErrorCode::kInternal, str("validation failed: logits differ from the CPU reference by ", worst));
  }
  return worst;
}

struct Timing {
  double best_seconds = INFINITY;
};

}  // namespace

int bench_command(const std::vector<std::string>& argv) {
  Result<Args> parsed = Args::parse(argv, kBenchSpec);
  if (!parsed) {
    std::fprintf(stderr, "llama bench: %s\n%s", parsed.error().message.c_str(), kBenchUsage);
    return 2;
  }
  const Args& args = *parsed;
  if (args.flag("--help")) {
    std::fputs(kBenchUsage, stdout);
    return 0;
  }
  Result<std::vector<int32_t>> prompt_lengths = parse_token_list(args.value("--prompt-lengths").value_or("512,2048"),
                                                                 "--prompt-lengths");
  Result<std::vector<int32_t>> streams = parse_token_list(args.value("--streams").value_or("1,16,64"), "--streams");
  Result<int64_t> stream_prompt = args.integer("--stream-prompt", 128, 1, 1 << 20);
  Result<int64_t> stream_generate = args.integer("--stream-generate", 128, 1, 1 << 20);
  Result<int64_t> threads = args.integer("--threads", 0, 0, 4096);
  Result<int64_t> repeat = args.integer("--repeat", 3, 1, 1000);
  Result<int64_t> prefill_chunk = args.integer("--prefill-chunk", 0, 0, 1 << 20);
  for (const auto* r : {&stream_prompt, &stream_generate, &threads, &repeat, &prefill_chunk}) {
    if (!*r) return fail(r->error());
  }
  if (!prompt_lengths) return fail(prompt_lengths.error());
  if (!streams) return fail(streams.error());
  for (int32_t n : *streams) {
    if (n == 0) return fail(make_error(ErrorCode::kInvalidArgument, "--streams: 0 streams"));
  }
  for (int32_t n : *prompt_lengths) {
    if (n == 0) return fail(make_error(ErrorCode::kInvalidArgument, "--prompt-lengths: 0 tokens"));
  }

  Result<std::unique_ptr<Backend>> backend = create_backend(
      BackendOptions{.device = args.value("--device").value_or("cpu"), .n_threads = static_cast<int>(*threads)});
  if (!backend) return fail(backend.error());
  Result<double> validation = validate_against_reference(**backend);
  if (!validation) return fail(validation.error());
  const std::string device_name = (*backend)->name();
  // Device memory in use before the model: the context, libraries and a backend's fixed
  // workspace (the validation model's memory is released; the model's backend has the same).
  (*backend)->release_cached_memory();
  std::optional<int64_t> used_before_model;
  if (Result<DeviceMemory> device = (*backend)->device_memory()) used_before_model = device->total_bytes - device->free_bytes;
  backend->reset();  // its memory would count in the device's use below
  Result<ParallelArgs> parallel =
      parse_parallel_args(args, args.value("--device").value_or("cpu"), static_cast<int>(*threads));
  if (!parallel) return fail(parallel.error());
  Result<MemoryArgs> memory = parse_memory_args(args, parallel->device);
  if (!memory) return fail(memory.error());

  auto load_start = Clock::now();
  Result<std::unique_ptr<LoadedModel>> loaded = make_error(ErrorCode::kInvalidArgument, "");
  std::string model_name;
  if (std::optional<std::string> synthetic = args.value("--synthetic")) {
    if (!args.positional().empty()) {
      return fail_rank(*parallel, make_error(ErrorCode::kInvalidArgument, "MODEL and --synthetic"));
    }
    Result<LlamaConfig> config = synthetic_config(*synthetic);
    if (!config) return fail_rank(*parallel, config.error());
    std::optional<DType> dtype = dtype_from_name(args.value("--dtype").value_or("bf16"));
    if (!dtype) return fail_rank(*parallel, make_error(ErrorCode::kInvalidArgument, "--dtype: expected bf16, f16 or f32"));
    loaded = make_synthetic_model(*config, SyntheticOptions{.dtype = *dtype});
    model_name = "synthetic " + *synthetic;
  } else {
    model_name = args.positional().empty() ? default_model_path() : args.positional()[0];
    loaded = load_model(model_name, LoadOptions{});
  }
  if (!loaded) return fail_rank(*parallel, loaded.error());
  const LlamaConfig& config = (*loaded)->config;

  // One KV pool big enough for the largest phase.
  const int32_t block_size = 16;
  int64_t max_streams = *std::max_element(streams->begin(), streams->end());
  int64_t max_prompt = *std::max_element(prompt_lengths->begin(), prompt_lengths->end());
  int64_t stream_tokens = *stream_prompt + *stream_generate;
  std::vector<float> logits;
  int64_t blocks_needed = std::max((max_prompt + block_size - 1) / block_size,
                                   max_streams * ((stream_tokens + block_size - 1) / block_size));
  KvManager kv(static_cast<int32_t>(blocks_needed), block_size);
  std::unique_ptr<Backend> model_backend;  // the single-device case's; parallel ranks own theirs
  Result<ModelRunnerSetup> setup = create_model_runner(
      **loaded, *parallel,
      KvCacheOptions{.n_blocks = static_cast<int32_t>(blocks_needed), .block_size = block_size, .dtype = memory->kv_dtype},
      KvSizingOptions{}, model_backend);
  if (!setup) return fail_rank(*parallel, setup.error());
  ModelRunner* model = setup->runner.get();
  double load_seconds = seconds_since(load_start);
  std::optional<int64_t> used_after_load;
  if (model_backend) {
    if (Result<DeviceMemory> device = model_backend->device_memory()) used_after_load = device->total_bytes - device->free_bytes;
  }
  const int64_t kv_bytes = blocks_needed * block_size * 2 * config.n_layers * config.n_kv_heads * config.head_dim *
                           dtype_info(memory->kv_dtype).block_bytes;
  // One step as the engine runs it: the next tokens picked (greedy) on the device where the runner
  // can, so only ids come back; otherwise the logits.
  std::vector<int32_t> sampled;
  auto run_step = [&](const ForwardBatch& batch) -> Status {
    if (!model->samples_on_device() || batch.logit_rows.empty()) return model->forward(batch, logits);
    std::vector<TokenSampling> greedy(batch.logit_rows.size());
    return model->forward_sampled(batch, greedy, sampled, {}, logits);
  };
  // A prompt of n tokens as steps of at most --prefill-chunk tokens (0: one step), as the engine
  // runs it; the last step's last row gives the next token.
  auto prefill = [&](SequenceBlocks& blocks, const std::vector<int32_t>& prompt) -> Status {
    const auto n = static_cast<int32_t>(prompt.size());
    const auto chunk = *prefill_chunk > 0 ? static_cast<int32_t>(*prefill_chunk) : n;
    for (int32_t begin = 0; begin < n; begin += chunk) {
      StepSequence step{.blocks = &blocks, .context = prompt, .begin = begin, .end = std::min(n, begin + chunk),
                        .want_logits = begin + chunk >= n};
      Status status = run_step(build_step_batch(kv, std::span<const StepSequence>(&step, 1)));
      if (!status) return status;
    }
    return {};
  };

  // Deterministic token ids spread over the vocabulary.
  auto tokens_for = [&](int64_t n, int64_t salt) {
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) tokens[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7919 + salt * 104729) % config.vocab_size);
    return tokens;
  };
  Json results = Json::array();

  for (int32_t length : *prompt_lengths) {
    std::vector<int32_t> prompt = tokens_for(length, 1);
    double best = INFINITY;
    for (int64_t r = 0; r < *repeat; ++r) {
      SequenceBlocks blocks;
      kv.reserve(blocks, length);
      auto start = Clock::now();
      Status status = prefill(blocks, prompt);
      double elapsed = seconds_since(start);
      kv.release(blocks);
      if (!status) return fail_rank(*parallel, status.error());
      best = std::min(best, elapsed);
    }
    results.push_back({{"test", str("prefill ", length)}, {"tokens_per_second", length / best}, {"seconds", best}});
  }

  for (int32_t n_streams : *streams) {
    std::vector<std::vector<int32_t>> contexts(static_cast<size_t>(n_streams));
    std::vector<SequenceBlocks> blocks(static_cast<size_t>(n_streams));
    for (int32_t s = 0; s < n_streams; ++s) {  // prefill, untimed
      contexts[static_cast<size_t>(s)] = tokens_for(*stream_prompt, s + 2);
      kv.reserve(blocks[static_cast<size_t>(s)], static_cast<int32_t>(*stream_prompt));
      Status status = prefill(blocks[static_cast<size_t>(s)], contexts[static_cast<size_t>(s)]);
      if (!status) return fail_rank(*parallel, status.error());
    }
    auto start = Clock::now();
    for (int64_t g = 0; g < *stream_generate; ++g) {
      std::vector<StepSequence> steps;
      for (int32_t s = 0; s < n_streams; ++s) {
        auto& context = contexts[static_cast<size_t>(s)];
        // A fixed next token keeps the work identical run to run; sampling is not what we time.
        context.push_back(static_cast<int32_t>((context.size() * 31) % config.vocab_size));
        int32_t position = static_cast<int32_t>(context.size()) - 1;
        kv.reserve(blocks[static_cast<size_t>(s)], position + 1);
        steps.push_back(StepSequence{.blocks = &blocks[static_cast<size_t>(s)], .context = context,
                                     .begin = position, .end = position + 1});
      }
      Status status = run_step(build_step_batch(kv, steps));
      if (!status) return fail_rank(*parallel, status.error());
    }
    double elapsed = seconds_since(start);
    for (auto& b : blocks) kv.release(b);
    results.push_back({{"test", str("decode ", n_streams, " stream", n_streams == 1 ? "" : "s")},
                       {"tokens_per_second", n_streams * *stream_generate / elapsed},
                       {"seconds", elapsed}});
  }

  Json report = {{"model", model_name},
                 {"config", config.summary()},
                 {"device", device_name},
                 {"tensor_parallel", parallel->layout.tensor_parallel},
                 {"pipeline_parallel", parallel->layout.pipeline_parallel},
                 {"load_seconds", load_seconds},
                 {"validation_max_abs_diff", *validation},
                 {"kv_dtype", dtype_name(memory->kv_dtype)},
                 {"results", results}};
  // The backend's pool keeps every block it took, so the device's use now is the run's peak
  // (context, weights, KV pool, largest step; the driver's count, other processes included).
  std::optional<int64_t> device_used;
  if (model_backend) {
    if (Result<DeviceMemory> device = model_backend->device_memory()) {
      device_used = device->total_bytes - device->free_bytes;
      report["device_memory_used_bytes"] = *device_used;
      if (used_before_model && used_after_load) {
        report["device_memory"] = {{"context_bytes", *used_before_model},
                                   {"weights_bytes", *used_after_load - *used_before_model - kv_bytes},
                                   {"kv_cache_bytes", kv_bytes},
                                   {"steps_bytes", *device_used - *used_after_load},
                                   {"host_mapped_bytes", device->host_mapped_bytes}};
      }
    }
  }
  if (!parallel->is_output_rank()) return 0;  // under mpirun, rank 0 prints
  if (args.flag("--json")) {
    std::cout << report.dump() << "\n";
    return 0;
  }
  std::printf("model: %s (%s)\ndevice: %s, validated against the CPU reference (max |diff| %.2e)\n",
              model_name.c_str(), config.summary().c_str(), device_name.c_str(), *validation);
  std::printf("load %.1f s; kv cache %s", load_seconds, std::string(dtype_name(memory->kv_dtype)).c_str());
  auto mib = [](int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); };
  if (device_used) std::printf("; device memory in use at the end: %.0f MiB", mib(*device_used));
  if (report.contains("device_memory")) {
    const Json& m = report["device_memory"];
    std::printf(" (context %.0f, weights %.0f, KV cache %.0f for %lld tokens, steps %.0f)",
                mib(m["context_bytes"].get<int64_t>()), mib(m["weights_bytes"].get<int64_t>()),
                mib(m["kv_cache_bytes"].get<int64_t>()), static_cast<long long>(blocks_needed * block_size),
                mib(m["steps_bytes"].get<int64_t>()));
    if (const int64_t mapped = m["host_mapped_bytes"].get<int64_t>(); mapped > 0) {
      std::printf("; token embedding in pinned host memory: %.0f MiB", mib(mapped));
    }
  }
  std::printf("\n%-22s %14s %10s\n", "test", "tokens/s", "seconds");
  for (const Json& row : results) {
    std::printf("%-22s %14.1f %10.4f\n", row["test"].get<std::string>().c_str(),
                row["tokens_per_second"].get<double>(), row["seconds"].get<double>());
  }
  return 0;
}

}  // namespace llm
