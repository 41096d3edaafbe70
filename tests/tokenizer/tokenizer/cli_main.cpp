// A test-only entry point for the tokenize/detokenize commands, so that the CLI tests run without
// the whole `llama` binary (which the lead wires up in src/cli).
#include <string>
#include <vector>

#include "cli/tokenize_command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return 2;
  const std::string command = args[0];
  args.erase(args.begin());
  return llm::tokenize_command(args, command == "detokenize");
}
