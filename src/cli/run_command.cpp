// llama run MODEL (--prompt TEXT | --prompt-tokens 1,2,3) [--max-tokens N] [--temperature T]
//           [--top-p P] [--top-k K] [--min-p P] [--repetition-penalty R] [--seed S] [--ignore-eos]
//           [--device cpu|cuda] [--threads N] [--tp N|auto] [--pp N] [--devices 0,1,...] [--json]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "backend/registry.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/memory_args.h"
#include "cli/parallel_args.h"
#include "engine/generator.h"
#include "model/llama/llama_model.h"
#include "model/loader.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "util/json.h"
#include "util/str.h"

namespace llm {
namespace {

const ArgSpec kRunSpec{
    .options_with_value = {"--prompt", "--prompt-tokens", "--max-tokens", "--temperature", "--top-p", "--top-k",
                           "--min-p", "--repetition-penalty", "--seed", "--device", "--threads", "--kv-block-size",
                           "--tp", "--pp", "--devices", "--collective-timeout", "--launcher", "--kv-dtype"},
    .flags = {"--ignore-eos", "--json", "--help"},
};

const char* kRunUsage =
    "usage: llama run [MODEL] (--prompt TEXT | --prompt-tokens 1,2,3) [--max-tokens N]\n"
    "                 [--temperature T] [--top-p P] [--top-k K] [--min-p P] [--repetition-penalty R]\n"
    "                 [--seed S] [--ignore-eos] [--device cpu|cuda] [--threads N] [--json]\n"
    "                 [--kv-dtype auto|f32|f16|bf16] (auto: bf16 on cuda, f32 on cpu)\n"
    "                 [--tp N|auto] [--pp N] [--devices 0,1,...] [--collective-timeout SECONDS]\n"
    "                 [--launcher auto|threads|mpi]\n"
    "Under mpirun each process runs one rank (tp x pp processes); only rank 0 prints.\n"
    "MODEL: a Hugging Face or Meta checkpoint directory, a .gguf file, or ollama://NAME[:TAG].\n"
    "Without MODEL the built-in default model is used.\n";

int fail(const Error& error) {
  std::fprintf(stderr, "llama run: %s\n", error.to_string().c_str());
  return 1;
}

// Under mpirun a process that gives up takes the job down (its peers would wait in MPI forever).
int fail_rank(const ParallelArgs& parallel, const Error& error) {
  if (parallel.processes) parallel.processes->abort(str("llama run: ", error.to_string()));
  return fail(error);
}

// Peak resident set of this process so far (getrusage; Linux reports KiB).
int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace

std::string default_model_path() {
  if (const char* env = std::getenv("LLAMA_DEFAULT_MODEL"); env != nullptr && *env != '\0') return env;
  return LLAMA_DEFAULT_MODEL;
}

int run_command(const std::vector<std::string>& argv) {
  Result<Args> parsed = Args::parse(argv, kRunSpec);
  if (!parsed) {
    std::fprintf(stderr, "llama run: %s\n%s", parsed.error().message.c_str(), kRunUsage);
    return 2;
  }
  const Args& args = *parsed;
  if (args.flag("--help")) {
    std::fputs(kRunUsage, stdout);
    return 0;
  }
  if (args.positional().size() > 1) {
    std::fprintf(stderr, "llama run: one MODEL expected, got %zu arguments\n%s", args.positional().size(), kRunUsage);
    return 2;
  }
  std::string model_path = args.positional().empty() ? default_model_path() : args.positional()[0];

  std::vector<int32_t> prompt;
  std::optional<std::string> prompt_text = args.value("--prompt");
  if (prompt_text && args.value("--prompt-tokens")) {
    std::fprintf(stderr, "llama run: give --prompt or --prompt-tokens, not both\n");
    return 2;
  }
  if (std::optional<std::string> tokens = args.value("--prompt-tokens")) {
    Result<std::vector<int32_t>> list = parse_token_list(*tokens, "--prompt-tokens");
    if (!list) return fail(list.error());
    prompt = std::move(*list);
  } else if (!prompt_text) {
    std::fprintf(stderr, "llama run: a prompt is required (--prompt TEXT or --prompt-tokens 1,2,3)\n%s", kRunUsage);
    return 2;
  }

  GenerateOptions options;
  Result<int64_t> max_tokens = args.integer("--max-tokens", 32, 0, 1 << 24);
  Result<double> temperature = args.number("--temperature", 0.0, 0.0, 100.0);
  Result<double> top_p = args.number("--top-p", 1.0, 0.0, 1.0);
  Result<int64_t> top_k = args.integer("--top-k", 0, 0, INT32_MAX);
  Result<double> min_p = args.number("--min-p", 0.0, 0.0, 1.0);
  Result<double> penalty = args.number("--repetition-penalty", 1.0, 1e-6, 1e6);
  Result<int64_t> seed = args.integer("--seed", 0, 0, INT64_MAX);
  Result<int64_t> threads = args.integer("--threads", 0, 0, 4096);
  Result<int64_t> block_size = args.integer("--kv-block-size", 16, 1, 1 << 16);
  for (const auto* r : {&max_tokens, &top_k, &seed, &threads, &block_size}) {
    if (!*r) return fail(r->error());
  }
  for (const auto* r : {&temperature, &top_p, &min_p, &penalty}) {
    if (!*r) return fail(r->error());
  }
  options.max_tokens = static_cast<int32_t>(*max_tokens);
  options.sampling = SamplingParams{.temperature = static_cast<float>(*temperature),
                                    .top_k = static_cast<int32_t>(*top_k),
                                    .top_p = static_cast<float>(*top_p),
                                    .min_p = static_cast<float>(*min_p),
                                    .repetition_penalty = static_cast<float>(*penalty),
                                    .seed = static_cast<uint64_t>(*seed)};
  Status sampling_ok = options.sampling.validate();
  if (!sampling_ok) return fail(sampling_ok.error());
  options.ignore_eos = args.flag("--ignore-eos");

  Result<ParallelArgs> parallel =
      parse_parallel_args(args, args.value("--device").value_or("cpu"), static_cast<int>(*threads));
  if (!parallel) return fail(parallel.error());

  Result<MemoryArgs> memory = parse_memory_args(args, parallel->device);
  if (!memory) return fail(memory.error());

  auto load_start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<LoadedModel>> loaded = load_model(model_path, LoadOptions{});
  if (!loaded) return fail_rank(*parallel, loaded.error());
  const LlamaConfig& config = (*loaded)->config;
  // The checkpoint's own tokenizer: needed for --prompt, used for the text of the output.
  Result<std::unique_ptr<Tokenizer>> tokenizer = load_tokenizer((*loaded)->files_path);
  if (prompt_text) {
    if (!tokenizer) return fail_rank(*parallel, tokenizer.error());
    Result<std::vector<int32_t>> encoded = (*tokenizer)->encode(*prompt_text, EncodeOptions{.add_bos = true});
    if (!encoded) return fail_rank(*parallel, encoded.error());
    prompt = std::move(*encoded);
  }
  if (tokenizer && config.eos_token_ids.empty() && !options.ignore_eos) {
    // Meta's params.json names no end token: the tokenizer's end-of-text and end-of-turn stop.
    for (int32_t id : {(*tokenizer)->special_ids().eos, (*tokenizer)->special_ids().eot}) {
      if (id >= 0) options.stop_tokens.push_back(id);
    }
  }
  int64_t total = static_cast<int64_t>(prompt.size()) + options.max_tokens;
  if (total > config.max_position) {
    return fail_rank(*parallel, make_error(ErrorCode::kInvalidArgument,
                           str("prompt (", prompt.size(), " tokens) + --max-tokens ", options.max_tokens,
                               " exceeds the model's context length ", config.max_position)));
  }
  // The KV pool holds exactly this request (rounded up to whole blocks).
  KvManager kv(static_cast<int32_t>((total + *block_size - 1) / *block_size), static_cast<int32_t>(*block_size));
  std::unique_ptr<Backend> backend;  // the single-device case's; parallel ranks own theirs
  Result<ModelRunnerSetup> setup = create_model_runner(
      **loaded, *parallel,
      KvCacheOptions{.n_blocks = kv.pool().n_blocks(), .block_size = kv.block_size(), .dtype = memory->kv_dtype},
      KvSizingOptions{}, backend);
  if (!setup) return fail_rank(*parallel, setup.error());
  ModelRunner* model = setup->runner.get();
  double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();

  bool json = args.flag("--json");
  const bool output = parallel->is_output_rank();  // under mpirun, rank 0 only
  // Text streams out as it completes (never half a UTF-8 character); without a tokenizer the ids do.
  std::optional<StreamingDetokenizer> detokenizer;
  if (tokenizer) detokenizer.emplace(**tokenizer, DecodeOptions{.skip_special = true});
  std::string text;
  Result<GenerateResult> result = generate(*model, kv, prompt, options, [&](int32_t token) {
    std::string piece;
    if (detokenizer) {
      Result<std::string> decoded = detokenizer->push(token);
      piece = decoded ? *decoded : "";
      text += piece;
    }
    if (!json && output) {
      if (detokenizer) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
      } else {
        std::printf("%d ", token);
      }
      std::fflush(stdout);
    }
  });
  if (detokenizer) {
    std::string rest = detokenizer->finish();
    text += rest;
    if (!json && output) std::fwrite(rest.data(), 1, rest.size(), stdout);
  }
  if (!result) {
    if (!json && output) std::printf("\n");
    return fail_rank(*parallel, result.error());
  }
  double prefill_tps = result->prefill_seconds > 0 ? static_cast<double>(prompt.size()) / result->prefill_seconds : 0;
  size_t decoded = result->tokens.empty() ? 0 : result->tokens.size() - 1;  // the first comes from prefill
  double decode_tps = result->decode_seconds > 0 ? static_cast<double>(decoded) / result->decode_seconds : 0;
  if (!output) return 0;
  if (json) {
    Json out = {
        {"model", model_path},
        {"prompt_tokens", prompt},
        {"tokens", result->tokens},
        {"text", detokenizer ? Json(text) : Json(nullptr)},  // null: the checkpoint has no tokenizer
        {"finish_reason", finish_reason_name(result->finish_reason)},
        {"timings",
         {{"load_seconds", load_seconds},
          {"prefill_seconds", result->prefill_seconds},
          {"decode_seconds", result->decode_seconds},
          {"prefill_tokens_per_second", prefill_tps},
          {"decode_tokens_per_second", decode_tps}}},
        {"tensor_parallel", parallel->layout.tensor_parallel},
        {"pipeline_parallel", parallel->layout.pipeline_parallel},
        {"peak_rss_bytes", peak_rss_bytes()},
    };
    // Driver-reported use of the whole device (context included), one device only.
    if (backend) {
      if (Result<DeviceMemory> device = backend->device_memory()) {
        out["device_memory_used_bytes"] = device->total_bytes - device->free_bytes;
      }
    }
    std::cout << out.dump() << "\n";
  } else {
    std::printf("\n");
    std::fflush(stdout);
    std::fprintf(stderr, "prefill: %zu tokens, %.1f tok/s; decode: %zu tokens, %.1f tok/s (%s)\n", prompt.size(),
                 prefill_tps, decoded, decode_tps, finish_reason_name(result->finish_reason));
  }
  return 0;
}

}  // namespace llm
