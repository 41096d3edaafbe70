#include <cstdio>
#include <string>
#include <vector>

#include "cli/chat_command.h"
#include "cli/commands.h"
#include "cli/perplexity_command.h"
#include "cli/serve_command.h"
#include "cli/tokenize_command.h"

namespace {

const char* kUsage =
    "usage: llama <command> [options]\n"
    "commands:\n"
    "  run       generate from a model (llama run --help)\n"
    "  chat      talk with a model (llama chat --help)\n"
    "  bench     measure prefill and decode speed (llama bench --help)\n"
    "  serve     serve the OpenAI, Llama Stack and Ollama APIs (llama serve --help)\n"
    "  perplexity  perplexity of a model on a text file (llama perplexity --help)\n"
    "  tokenize    text -> token ids (llama tokenize --help)\n"
    "  detokenize  token ids -> text (llama detokenize --help)\n"
    "  version   print the version\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "run") return llm::run_command(args);
  if (command == "bench") return llm::bench_command(args);
  if (command == "chat") return llm::chat_command(args);
  if (command == "serve") return llm::serve_command(args);
  if (command == "perplexity") return llm::perplexity_command(args);
  if (command == "tokenize") return llm::tokenize_command(args, /*detokenize=*/false);
  if (command == "detokenize") return llm::tokenize_command(args, /*detokenize=*/true);
  if (command == "version" || command == "--version") {
    std::printf("llama (llama-stack-cpp) 0.1.0\n");
    return 0;
  }
  std::fprintf(stderr, "llama: unknown command \"%s\"\n%s", command.c_str(), kUsage);
  return 2;
}
