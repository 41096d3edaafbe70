// Generation stops on EOS and stop tokens, validates its inputs, and frees every KV block.
#include <gtest/gtest.h>

#include <filesystem>

#include "backend/registry.h"
#include "engine/generator.h"
#include "model/llama/llama_model.h"
#include "model/loader.h"
#include "util/json.h"
#include "util/mapped_file.h"

namespace llm {
namespace {

const std::string kFixture = std::string(LLAMA_SOURCE_DIR) + "/tests/fixtures/models/gqa-llama3/hf";

std::vector<int32_t> expected_greedy() {
  Json json = parse_json(read_text_file(kFixture + "/expected.json").value(), "expected.json").value();
  return json["greedy_tokens"].get<std::vector<int32_t>>();
}

struct Harness {
  std::unique_ptr<LoadedModel> loaded;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<LlamaModel> model;
};

Harness make(const std::vector<int32_t>& eos) {
  Harness s;
  s.loaded = std::move(load_model(kFixture, LoadOptions{}).value());
  s.loaded->config.eos_token_ids = eos;
  s.backend = std::move(create_backend(BackendOptions{.device = "cpu", .n_threads = 2}).value());
  s.model = std::move(LlamaModel::create(*s.backend, *s.loaded, KvCacheOptions{.n_blocks = 8, .block_size = 8}).value());
  return s;
}

const std::vector<int32_t> kPrompt = {1, 17, 42, 99, 7, 250, 3, 128};

TEST(Generator, StopsAtEos) {
  std::vector<int32_t> greedy = expected_greedy();
  Harness s = make({greedy[4]});
  KvManager kv(8, 8);
  Result<GenerateResult> r = generate(*s.model, kv, kPrompt, GenerateOptions{.max_tokens = 32});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  size_t first = std::find(greedy.begin(), greedy.end(), greedy[4]) - greedy.begin();
  EXPECT_EQ(r->tokens, std::vector<int32_t>(greedy.begin(), greedy.begin() + first + 1));
  EXPECT_EQ(r->finish_reason, FinishReason::kStop);
  EXPECT_EQ(kv.pool().n_free(), 8);
}

TEST(Generator, IgnoreEosAndStopTokens) {
  std::vector<int32_t> greedy = expected_greedy();
  Harness s = make({greedy[0]});
  KvManager kv(8, 8);
  Result<GenerateResult> r = generate(*s.model, kv, kPrompt,
                                      GenerateOptions{.max_tokens = 10, .stop_tokens = {greedy[6]}, .ignore_eos = true});
  ASSERT_TRUE(r.ok());
  size_t first = std::find(greedy.begin(), greedy.end(), greedy[6]) - greedy.begin();
  EXPECT_EQ(r->tokens, std::vector<int32_t>(greedy.begin(), greedy.begin() + first + 1));
}

TEST(Generator, RejectsBadInput) {
  Harness s = make({});
  KvManager kv(8, 8);
  EXPECT_EQ(generate(*s.model, kv, {}, GenerateOptions{}).error().message, "the prompt has no tokens");
  EXPECT_EQ(generate(*s.model, kv, {1, 384}, GenerateOptions{}).error().message,
            "prompt token 1 is 384, outside the vocabulary [0, 384)");
  EXPECT_EQ(generate(*s.model, kv, kPrompt, GenerateOptions{.max_tokens = 60}).error().message,
            "prompt (8 tokens) + max_tokens (60) does not fit the KV cache (64 tokens)");
  EXPECT_EQ(kv.pool().n_free(), 8);
}

TEST(Generator, SeededSamplingIsReproducible) {
  Harness s = make({});
  KvManager kv(8, 8);
  GenerateOptions options{.max_tokens = 16, .sampling = {.temperature = 0.9f, .top_p = 0.95f, .seed = 5}};
  Result<GenerateResult> a = generate(*s.model, kv, kPrompt, options);
  Result<GenerateResult> b = generate(*s.model, kv, kPrompt, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tokens, b->tokens);
}

}  // namespace
}  // namespace llm
