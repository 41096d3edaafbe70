// llama chat [MODEL] ...: an interactive conversation with a model, through the same inline
// provider the server uses (chat template, stop tokens, streaming text, prefix cache).
#pragma once

#include <string>
#include <vector>

namespace llm {

int chat_command(const std::vector<std::string>& args);

}  // namespace llm
