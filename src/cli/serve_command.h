// `llama serve`: the server that speaks Llama Stack, OpenAI and Ollama over one port.
#pragma once

#include <string>
#include <vector>

namespace llm {

int serve_command(const std::vector<std::string>& args);

}  // namespace llm
