// `llama tokenize` and `llama detokenize`.
#pragma once

#include <string>
#include <vector>

namespace llm {

// detokenize = false: TOKENIZER_OR_MODEL [--text TEXT] [--no-bos] [--parse-special] [--json];
// prints the ids. detokenize = true: TOKENIZER_OR_MODEL [--ids 1,2,3] [--skip-special] [--json];
// prints the text. Returns the process exit code.
int tokenize_command(const std::vector<std::string>& args, bool detokenize);

}  // namespace llm
