// LlamaConfig: the hyper-parameters of a Llama 2 / 3.x checkpoint, read from the checkpoint's
// own metadata (HF config.json, Meta params.json, GGUF llama.* keys) — never guessed from names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/json.h"
#include "util/result.h"

namespace llm {

class GgufFile;

enum class RopeScalingType {
  kNone,
  kLinear,  // every frequency divided by factor
  kLlama3,  // Llama 3.1+: low frequencies divided by factor, smooth band in between
};

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position = 8192;
};

struct LlamaConfig {
  int64_t dim = 0;         // hidden size
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // == n_heads for multi-head attention
  int64_t head_dim = 0;
  int64_t ffn_dim = 0;     // SwiGLU hidden size
  int64_t vocab_size = 0;
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tied_embeddings = false;  // output projection shares tok_embeddings
  int64_t max_position = 4096;   // context length the model was trained for
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;

  // Cross-checks (heads divide dims, positive sizes, ...); errors name `subject`.
  Status validate(const std::string& subject) const;
  std::string summary() const;  // one line for logs: "dim 4096, 32 layers, 32 heads (8 kv) ..."
};

// Hugging Face config.json (both the rope_theta + rope_scaling style and the newer
// rope_parameters style).
Result<LlamaConfig> parse_hf_config(const Json& config, const std::string& subject);

// generation_config.json beside config.json: its eos_token_id (an id or a list, e.g. Llama 3
// Instruct's end-of-turn) joins the config's end tokens, as transformers' generate() uses it.
Status merge_generation_config(const Json& generation_config, const std::string& subject, LlamaConfig& config);

// Meta params.json. vocab_size may be -1 (Llama 2): the caller fills it from the embedding rows.
// `sibling_hf_config` is the config.json of the same download when there is one (HF repos ship
// Meta weights in original/): it supplies the llama3 rope factor that params.json lacks.
Result<LlamaConfig> parse_meta_params(const Json& params, const std::string& subject,
                                      const Json* sibling_hf_config);

// Meta's FFN sizing rule (llama-models FeedForward): hidden = multiple_of-rounded
// ffn_dim_multiplier * int(2 * 4 * dim / 3).
int64_t meta_ffn_dim(int64_t dim, int64_t multiple_of, std::optional<double> ffn_dim_multiplier);

}  // namespace llm
