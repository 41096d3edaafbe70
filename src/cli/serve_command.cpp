// llama serve [MODEL | --synthetic NAME [--dtype bf16]] [--host H] [--port 8321] [--api-key K]
//             [--cors-origin O] [--model-id NAME]
//             [--max-num-seqs N] [--max-queue N] [--kv-tokens N] [--kv-block-size N] [--step-tokens N]
//             [--device cpu|cuda] [--threads N] [--tp N] [--pp N] [--devices 0,1] [--io-threads N]
//             [--max-body-bytes N] [--header-timeout S] [--shutdown-timeout S] [--quiet]
#include "cli/serve_command.h"

#include <cstdio>
#include <cstdlib>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/engine_setup.h"
#include "cli/parallel_args.h"
#include "model/loader.h"
#include "model/synthetic.h"
#include "server/server.h"
#include "stack/inline_provider.h"
#include "tokenizer/tokenizer.h"
#include "util/log.h"
#include "util/str.h"

namespace llm {
namespace {

const ArgSpec kServeSpec{
    .options_with_value = {"--host", "--port", "--api-key", "--cors-origin", "--model-id", "--max-num-seqs",
                           "--max-queue", "--kv-tokens", "--kv-block-size", "--step-tokens", "--device", "--threads", "--kv-dtype",
                           "--gpu-memory-utilization",
                           "--tp", "--pp", "--devices", "--collective-timeout", "--io-threads", "--max-body-bytes",
                           "--header-timeout", "--shutdown-timeout", "--synthetic", "--dtype"},
    .flags = {"--help", "--quiet", "--no-prefix-caching"},
};

const char* kServeUsage =
    "usage: llama serve [MODEL | --synthetic NAME [--dtype bf16|f16|f32]] [--host 127.0.0.1] [--port 8321]\n"
    "                   [--api-key KEY] [--cors-origin ORIGIN]\n"
    "                   [--model-id NAME] [--max-num-seqs 64] [--max-queue 1024] [--kv-tokens N]\n"
    "                   [--kv-block-size 16] [--step-tokens 512] [--no-prefix-caching]\n"
    "                   [--kv-dtype auto|f32|f16|bf16] [--gpu-memory-utilization 0.90]\n"
    "                   [--device cpu|cuda] [--threads N] [--tp N|auto] [--pp N] [--devices 0,1,...]\n"
    "                   [--io-threads 2] [--max-body-bytes 8388608] [--header-timeout 15]\n"
    "                   [--shutdown-timeout 30] [--quiet]\n"
    "Serves the OpenAI (/v1/chat/completions, /v1/completions, /v1/models), Llama Stack (/v1/...,\n"
    "/v1/inference/...) and Ollama (/api/...) APIs on one port. Without MODEL the built-in default\n"
    "model is served. --synthetic serves random weights of a known shape (llama3.1-8b, ...; see\n"
    "`llama bench --synthetic`) with no tokenizer: token-id prompts only, for load tests. The API\n"
    "key may also come from $LLAMA_API_KEY. SIGTERM/SIGINT drain requests in flight for\n"
    "--shutdown-timeout seconds, then cancel them.\n";

int fail(const Error& error) {
  std::fprintf(stderr, "llama serve: %s\n", error.to_string().c_str());
  return 1;
}

}  // namespace

int serve_command(const std::vector<std::string>& argv) {
  // Before any thread exists, so that every thread inherits the mask and only sigwait sees them.
  server::block_termination_signals();
  Result<Args> parsed = Args::parse(argv, kServeSpec);
  if (!parsed) {
    std::fprintf(stderr, "llama serve: %s\n%s", parsed.error().message.c_str(), kServeUsage);
    return 2;
  }
  const Args& args = *parsed;
  if (args.flag("--help")) {
    std::fputs(kServeUsage, stdout);
    return 0;
  }
  if (args.positional().size() > 1) {
    std::fprintf(stderr, "llama serve: one MODEL expected, got %zu\n%s", args.positional().size(), kServeUsage);
    return 2;
  }
  std::optional<std::string> synthetic = args.value("--synthetic");
  if (synthetic && !args.positional().empty()) {
    std::fprintf(stderr, "llama serve: MODEL and --synthetic both given; pick one\n%s", kServeUsage);
    return 2;
  }
  std::string model_path = args.positional().empty() ? default_model_path() : args.positional()[0];
  Result<int64_t> port = args.integer("--port", 8321, 0, 65535);
  Result<int64_t> max_seqs = args.integer("--max-num-seqs", 64, 1, 65536);
  Result<int64_t> max_queue = args.integer("--max-queue", 1024, 1, 1 << 20);
  Result<int64_t> kv_tokens = args.integer("--kv-tokens", 0, 0, int64_t{1} << 32);
  Result<int64_t> block_size = args.integer("--kv-block-size", 16, 1, 1 << 16);
  Result<int64_t> step_tokens = args.integer("--step-tokens", 512, 1, 1 << 20);
  Result<int64_t> threads = args.integer("--threads", 0, 0, 4096);
  Result<int64_t> io_threads = args.integer("--io-threads", 2, 1, 256);
  Result<int64_t> max_body = args.integer("--max-body-bytes", 8 << 20, 1024, int64_t{1} << 32);
  Result<double> header_timeout = args.number("--header-timeout", 15, 0.1, 3600);
  Result<double> shutdown_timeout = args.number("--shutdown-timeout", 30, 0, 3600);
  for (const auto* r : {&port, &max_seqs, &max_queue, &kv_tokens, &block_size, &step_tokens, &threads, &io_threads, &max_body}) {
    if (!*r) return fail(r->error());
  }
  for (const auto* r : {&header_timeout, &shutdown_timeout}) {
    if (!*r) return fail(r->error());
  }
  Result<ParallelArgs> parallel =
      parse_parallel_args(args, args.value("--device").value_or("cpu"), static_cast<int>(*threads));
  if (!parallel) return fail(parallel.error());

  std::string model_id = args.value("--model-id").value_or("");
  Result<MemoryArgs> memory = parse_memory_args(args, parallel->device);
  if (!memory) return fail(memory.error());
  EngineSetupOptions engine_options{.max_num_seqs = *max_seqs,
                                    .kv_tokens = *kv_tokens,
                                    .kv_block_size = *block_size,
                                    .max_step_tokens = *step_tokens,
                                    .memory = *memory};
  Result<stack::InlineEngineParts> parts = make_error(ErrorCode::kInvalidArgument, "no model");
  if (synthetic) {
    Result<LlamaConfig> synthetic_shape = synthetic_config(*synthetic);
    if (!synthetic_shape) return fail(synthetic_shape.error());
    std::optional<DType> dtype = dtype_from_name(args.value("--dtype").value_or("bf16"));
    if (!dtype) return fail(make_error(ErrorCode::kInvalidArgument, "--dtype: expected bf16, f16 or f32"));
    Result<std::unique_ptr<LoadedModel>> loaded = make_synthetic_model(*synthetic_shape, SyntheticOptions{.dtype = *dtype});
    if (!loaded) return fail(loaded.error());
    if (model_id.empty()) model_id = "synthetic-" + *synthetic;
    log_info("synthetic model ", *synthetic, ": no tokenizer, only token-id prompts will work");
    parts = open_inline_engine(std::move(*loaded), nullptr, *parallel, engine_options);
  } else {
    if (args.value("--dtype")) return fail(make_error(ErrorCode::kInvalidArgument, "--dtype needs --synthetic"));
    parts = open_inline_engine(model_path, *parallel, engine_options);
  }
  if (!parts) return fail(parts.error());

  stack::Stack stack("0.1.0");
  const int64_t kv_capacity = static_cast<int64_t>(parts->kv->pool().n_blocks()) * parts->kv->block_size();
  auto provider = std::make_unique<stack::InlineProvider>(
      std::move(*parts),
      stack::InlineProviderOptions{.model_id = model_id,
                                   .scheduler = SchedulerOptions{.max_num_seqs = static_cast<int32_t>(*max_seqs),
                                                                 .max_step_tokens = static_cast<int32_t>(*step_tokens),
                                                                 .max_waiting = static_cast<int32_t>(*max_queue),
                                                                 .prefix_caching = !args.flag("--no-prefix-caching")}},
      stack.metrics());
  stack::InlineProvider* inline_provider = provider.get();
  model_id = provider->models()[0].id;
  stack.add_provider(std::move(provider));

  server::ServerOptions options;
  options.http.host = args.value("--host").value_or("127.0.0.1");
  options.http.port = static_cast<uint16_t>(*port);
  options.http.io_threads = static_cast<int>(*io_threads);
  options.http.max_body_bytes = static_cast<size_t>(*max_body);
  options.http.header_timeout = std::chrono::milliseconds(static_cast<int64_t>(*header_timeout * 1000));
  options.api_key = args.value("--api-key").value_or("");
  if (options.api_key.empty()) {
    if (const char* env = std::getenv("LLAMA_API_KEY")) options.api_key = env;
  }
  options.cors_origin = args.value("--cors-origin").value_or("");
  options.log_requests = !args.flag("--quiet");
  server::Server server(stack, options);
  if (Status started = server.start(); !started) return fail(started.error());
  std::printf("llama serve: %s on http://%s:%u (KV %lld tokens in blocks of %lld, up to %lld sequences)\n",
              model_id.c_str(), options.http.host.c_str(), server.port(), static_cast<long long>(kv_capacity),
              static_cast<long long>(*block_size), static_cast<long long>(*max_seqs));
  std::fflush(stdout);

  int signal = server::wait_for_termination_signal();
  log_info("signal ", signal, ": draining for up to ", *shutdown_timeout, " s");
  server.shutdown(std::chrono::milliseconds(static_cast<int64_t>(*shutdown_timeout * 1000)));
  inline_provider->stop();
  std::printf("llama serve: stopped\n");
  return 0;
}

}  // namespace llm
