// `llama` subcommands. Each returns the process exit code; only this folder writes to stdout.
#pragma once

#include <string>
#include <vector>

namespace llm {

int run_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);

// The built-in default model: $LLAMA_DEFAULT_MODEL, else the one this build was configured with.
std::string default_model_path();

}  // namespace llm
