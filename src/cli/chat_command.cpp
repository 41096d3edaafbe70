// llama chat [MODEL] [--system TEXT] [--max-tokens N] [--temperature T] [--top-p P] [--top-k K]
//            [--seed S] [--device cpu|cuda] [--threads N] [--tp N] [--pp N] [--devices 0,1]
// Reads one user message per line from stdin (a terminal or a pipe), streams each answer to
// stdout, and keeps the conversation. "/reset" starts over, "/exit" (or end of input) quits.
#include "cli/chat_command.h"

#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/engine_setup.h"
#include "cli/memory_args.h"
#include "stack/metrics.h"
#include "util/str.h"

namespace llm {
namespace {

const ArgSpec kChatSpec{
    .options_with_value = {"--system", "--max-tokens", "--temperature", "--top-p", "--top-k", "--seed", "--device",
                           "--threads", "--tp", "--pp", "--devices", "--collective-timeout", "--kv-dtype",
                           "--gpu-memory-utilization"},
    .flags = {"--help"},
};

const char* kChatUsage =
    "usage: llama chat [MODEL] [--system TEXT] [--max-tokens N] [--temperature T] [--top-p P] [--top-k K]\n"
    "                  [--seed S] [--device cpu|cuda] [--threads N] [--tp N] [--pp N] [--devices 0,1]\n"
    "                  [--kv-dtype auto|f32|f16|bf16] [--gpu-memory-utilization 0.90]\n"
    "One user message per line on stdin; /reset starts over, /exit quits. Without MODEL the built-in\n"
    "demo model is used.\n";

int fail(const Error& error) {
  std::fprintf(stderr, "llama chat: %s\n", error.to_string().c_str());
  return 1;
}

// Prints the answer as it streams and hands the whole result to the waiting turn.
class PrintingSink final : public stack::GenerationSink {
 public:
  void on_delta(const stack::GenerationDelta& delta) override {
    std::fwrite(delta.text.data(), 1, delta.text.size(), stdout);
    std::fflush(stdout);
    std::lock_guard lock(mutex_);
    text_ += delta.text;
  }
  void on_done(const stack::GenerationResult& result) override {
    std::lock_guard lock(mutex_);
    result_ = result;
    done_ = true;
    finished_.notify_all();
  }
  // The answer's text and how it ended, once the generation is over.
  std::pair<std::string, stack::GenerationResult> wait() {
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [&] { return done_; });
    return {text_, result_};
  }

 private:
  std::mutex mutex_;
  std::condition_variable finished_;
  std::string text_;
  stack::GenerationResult result_;
  bool done_ = false;
};

}  // namespace

int chat_command(const std::vector<std::string>& argv) {
  Result<Args> parsed = Args::parse(argv, kChatSpec);
  if (!parsed) {
    std::fprintf(stderr, "llama chat: %s\n%s", parsed.error().message.c_str(), kChatUsage);
    return 2;
  }
  const Args& args = *parsed;
  if (args.flag("--help")) {
    std::fputs(kChatUsage, stdout);
    return 0;
  }
  if (args.positional().size() > 1) {
    std::fprintf(stderr, "llama chat: one MODEL expected\n%s", kChatUsage);
    return 2;
  }
  std::string model_path = args.positional().empty() ? default_model_path() : args.positional()[0];
  Result<int64_t> max_tokens = args.integer("--max-tokens", 256, 1, 1 << 20);
  Result<double> temperature = args.number("--temperature", 0.0, 0.0, 100.0);
  Result<double> top_p = args.number("--top-p", 1.0, 1e-6, 1.0);
  Result<int64_t> top_k = args.integer("--top-k", 0, 0, INT32_MAX);
  Result<int64_t> seed = args.integer("--seed", 0, 0, INT64_MAX);
  Result<int64_t> threads = args.integer("--threads", 0, 0, 4096);
  for (const auto* r : {&max_tokens, &top_k, &seed, &threads}) {
    if (!*r) return fail(r->error());
  }
  for (const auto* r : {&temperature, &top_p}) {
    if (!*r) return fail(r->error());
  }
  Result<ParallelArgs> parallel =
      parse_parallel_args(args, args.value("--device").value_or("cpu"), static_cast<int>(*threads));
  if (!parallel) return fail(parallel.error());
  Result<MemoryArgs> memory = parse_memory_args(args, parallel->device);
  if (!memory) return fail(memory.error());
  // One conversation at a time; the prefix cache keeps earlier turns' KV between turns.
  Result<stack::InlineEngineParts> parts =
      open_inline_engine(model_path, *parallel, EngineSetupOptions{.max_num_seqs = 1, .memory = *memory});
  if (!parts) return fail(parts.error());
  if (!parts->tokenizer) return fail(make_error(ErrorCode::kUnsupported, str(model_path, ": chat needs a tokenizer")));
  stack::ServingMetrics metrics;
  stack::InlineProvider provider(std::move(*parts),
                                 stack::InlineProviderOptions{.scheduler = SchedulerOptions{.max_num_seqs = 1}},
                                 metrics);
  std::string model_id = provider.models()[0].id;

  std::vector<chat::ChatMessage> messages;
  auto reset = [&] {
    messages.clear();
    if (std::optional<std::string> system = args.value("--system")) messages.push_back({.role = "system", .content = *system});
  };
  reset();
  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  std::string line;
  while (true) {
    if (interactive) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      reset();
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({.role = "user", .content = line});
    stack::GenerateRequest request{.model = model_id,
                                   .messages = messages,
                                   .max_tokens = static_cast<int32_t>(*max_tokens),
                                   .sampling = SamplingParams{.temperature = static_cast<float>(*temperature),
                                                              .top_k = static_cast<int32_t>(*top_k),
                                                              .top_p = static_cast<float>(*top_p),
                                                              .seed = static_cast<uint64_t>(*seed)}};
    auto sink = std::make_shared<PrintingSink>();
    Result<uint64_t> started = provider.generate(request, sink);
    if (!started) {
      std::fprintf(stderr, "llama chat: %s\n", started.error().to_string().c_str());
      messages.pop_back();
      continue;
    }
    auto [answer, result] = sink->wait();
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (result.finish == stack::GenerationFinish::kError) {
      std::fprintf(stderr, "llama chat: %s\n", result.error.c_str());
      messages.pop_back();
      continue;
    }
    messages.push_back({.role = "assistant", .content = answer});
  }
  provider.stop();
  return 0;
}

}  // namespace llm
