// Loading any Llama checkpoint the user has: a Hugging Face directory (config.json +
// safetensors, single or sharded), a Meta directory (params.json + consolidated.NN.pth of any
// MP), a .gguf file, or an Ollama model name (ollama://llama3.1:8b).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/config.h"
#include "model/weights.h"

namespace llm {

struct LoadedModel {
  std::string path;        // what the user named
  std::string files_path;  // the checkpoint's directory or file (an Ollama name: its GGUF blob),
                           // where its tokenizer is found
  CheckpointFormat format = CheckpointFormat::kHuggingFace;
  LlamaConfig config;
  RopeLayout rope_layout = RopeLayout::kHalfSplit;  // HF permutes Q/K; Meta and GGUF do not
  std::vector<float> rope_inverse_frequencies;      // [head_dim / 2]
  // Where every weight lives in the checkpoint's files (host views, valid while `storage` lives).
  // Nothing is copied at load: each rank builds its shard from these (model/shard.h).
  LlamaWeightSources sources;
  std::vector<std::shared_ptr<void>> storage;  // mmaps and sources
};

struct LoadOptions {
  std::string ollama_models_dir;  // overrides $OLLAMA_MODELS / ~/.ollama/models when set
};

Result<std::unique_ptr<LoadedModel>> load_model(const std::string& reference, const LoadOptions& options);

}  // namespace llm
