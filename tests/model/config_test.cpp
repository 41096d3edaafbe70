// Config parsing against the real files' contents. Expected FFN sizes are the published shapes
// (shared/reference/llama-stack.md 3.1), not our formula's output.
#include <gtest/gtest.h>

#include "model/config.h"

namespace llm {
namespace {

Json json(const char* text) { return parse_json(text, "test").value(); }

// meta-llama/Llama-3.1-8B-Instruct config.json (abridged to the fields that matter).
const char* kLlama31Config = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu", "hidden_size": 4096,
  "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": false,
  "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
  "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "rope_theta": 500000.0,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256})";

TEST(HfConfig, Llama31) {
  Result<LlamaConfig> c = parse_hf_config(json(kLlama31Config), "config.json");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->dim, 4096);
  EXPECT_EQ(c->n_layers, 32);
  EXPECT_EQ(c->n_heads, 32);
  EXPECT_EQ(c->n_kv_heads, 8);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->ffn_dim, 14336);
  EXPECT_EQ(c->vocab_size, 128256);
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_EQ(c->max_position, 131072);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int32_t>{128001, 128008, 128009}));
  EXPECT_FALSE(c->tied_embeddings);
}

TEST(HfConfig, Llama32FactorComesFromTheCheckpoint) {
  // meta-llama/Llama-3.2-1B: factor 32, tied embeddings; newer rope_parameters style.
  Result<LlamaConfig> c = parse_hf_config(json(R"({"model_type": "llama", "hidden_size": 2048,
      "intermediate_size": 8192, "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
      "vocab_size": 128256, "rms_norm_eps": 1e-05, "tie_word_embeddings": true, "head_dim": 64,
      "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})"),
                                          "config.json");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->rope_scaling.factor, 32.0);
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_TRUE(c->tied_embeddings);
  EXPECT_EQ(c->head_dim, 64);
}

TEST(HfConfig, Errors) {
  EXPECT_EQ(parse_hf_config(json(R"({"model_type": "mistral"})"), "config.json").error().message,
            "config.json: model_type \"mistral\" is not supported (expected \"llama\")");
  EXPECT_EQ(parse_hf_config(json(R"({"hidden_size": 64})"), "config.json").error().message,
            "config.json: missing \"num_hidden_layers\"");
  EXPECT_EQ(parse_hf_config(json(R"({"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 6,
      "num_key_value_heads": 4, "intermediate_size": 8, "vocab_size": 10})"), "config.json").error().message,
            "config.json: 6 attention heads are not a multiple of 4 kv heads");
  EXPECT_EQ(parse_hf_config(json(R"({"hidden_size": "64"})"), "config.json").error().message,
            "config.json: \"hidden_size\" must be an integer, got \"64\"");
  EXPECT_EQ(parse_hf_config(json(R"({"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
      "intermediate_size": 8, "vocab_size": 10, "rope_scaling": {"rope_type": "yarn", "factor": 4}})"),
                            "config.json").error().message,
            "config.json: rope scaling type \"yarn\" is not supported (supported: default, linear, llama3)");
}

TEST(MetaParams, FfnSizesOfThePublishedModels) {
  // (dim, multiple_of, ffn_dim_multiplier) -> FFN hidden, from the published checkpoints.
  EXPECT_EQ(meta_ffn_dim(4096, 1024, 1.3), 14336);   // 3.1-8B
  EXPECT_EQ(meta_ffn_dim(8192, 4096, 1.3), 28672);   // 3.1-70B
  EXPECT_EQ(meta_ffn_dim(16384, 4096, 1.2), 53248);  // 3.1-405B
  EXPECT_EQ(meta_ffn_dim(2048, 256, 1.5), 8192);     // 3.2-1B
  EXPECT_EQ(meta_ffn_dim(3072, 256, 1.0), 8192);     // 3.2-3B
  EXPECT_EQ(meta_ffn_dim(4096, 256, std::nullopt), 11008);  // Llama 2 7B
}

TEST(MetaParams, Llama31_8B) {
  Result<LlamaConfig> c = parse_meta_params(json(R"({"dim": 4096, "ffn_dim_multiplier": 1.3, "multiple_of": 1024,
      "n_heads": 32, "n_kv_heads": 8, "n_layers": 32, "norm_eps": 1e-05, "rope_theta": 500000.0,
      "use_scaled_rope": true, "vocab_size": 128256})"),
                                            "params.json", nullptr);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->ffn_dim, 14336);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(c->rope_scaling.factor, 8.0);
}

TEST(MetaParams, Llama32TakesTheFactorFromTheSiblingConfig) {
  Json sibling = json(R"({"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
      "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "vocab_size": 128256,
      "rope_theta": 500000.0, "rope_scaling": {"factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192, "rope_type": "llama3"}})");
  Result<LlamaConfig> c = parse_meta_params(json(R"({"dim": 2048, "ffn_dim_multiplier": 1.5, "multiple_of": 256,
      "n_heads": 32, "n_kv_heads": 8, "n_layers": 16, "norm_eps": 1e-05, "rope_theta": 500000.0,
      "use_scaled_rope": true, "vocab_size": 128256})"),
                                            "params.json", &sibling);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->rope_scaling.factor, 32.0);
}

TEST(MetaParams, Llama2HasNoVocabNorTheta) {
  Result<LlamaConfig> c = parse_meta_params(
      json(R"({"dim": 4096, "multiple_of": 256, "n_heads": 32, "n_layers": 32, "norm_eps": 1e-05, "vocab_size": -1})"),
      "params.json", nullptr);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->vocab_size, -1);
  EXPECT_EQ(c->rope_theta, 10000.0);
  EXPECT_EQ(c->n_kv_heads, 32);
  EXPECT_EQ(c->ffn_dim, 11008);
}

}  // namespace
}  // namespace llm

namespace llm {
namespace {

TEST(GenerationConfig, AddsEndTokens) {
  LlamaConfig c = parse_hf_config(parse_json(kLlama31Config, "c").value(), "config.json").value();
  c.eos_token_ids = {128001};
  ASSERT_TRUE(merge_generation_config(parse_json(R"({"eos_token_id": [128001, 128009]})", "g").value(),
                                      "generation_config.json", c).ok());
  EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{128001, 128009}));
  EXPECT_EQ(merge_generation_config(parse_json(R"({"eos_token_id": 200000})", "g").value(), "generation_config.json", c)
                .error()
                .message,
            "generation_config.json: eos token id 200000 >= vocab size 128256");
}

}  // namespace
}  // namespace llm
