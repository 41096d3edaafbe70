// GGUF files (and Ollama models, which are GGUF blobs) as Llama models: config from the
// llama.* metadata keys, weights zero-copy from the mapped file.
#pragma once

#include <memory>
#include <string>

#include "model/loader.h"

namespace llm {

Result<std::unique_ptr<LoadedModel>> load_gguf_model(const std::string& path);
Result<std::unique_ptr<LoadedModel>> load_ollama_model(const std::string& reference, const std::string& models_dir);

}  // namespace llm
