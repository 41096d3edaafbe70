// The built-in demo model (models/demo) against PyTorch: our tokenizer, chat template and greedy
// decoding give what transformers gave (models/demo/reference_samples.json, written by
// tools/demo_model/reference_perplexity.py in float32), not values computed by this code.
#include <gtest/gtest.h>

#include "backend/registry.h"
#include "engine/generator.h"
#include "model/llama/llama_model.h"
#include "model/loader.h"
#include "tokenizer/chat/chat.h"
#include "tokenizer/tokenizer.h"
#include "util/json.h"
#include "util/mapped_file.h"

namespace llm {
namespace {

const std::string kDemoDir = std::string(LLAMA_SOURCE_DIR) + "/models/demo";

Json read_reference() {
  Result<std::string> text = read_text_file(kDemoDir + "/reference_samples.json");
  EXPECT_TRUE(text.ok()) << text.error().to_string();
  return text.ok() ? Json::parse(*text) : Json::object();
}

// Prompts: plain text gets BOS; a chat prompt is the user's message through the model's own
// chat_template with the assistant header after it.
TEST(DemoModelTokenizer, PromptsAndChatTemplateMatchPyTorch) {
  const Json reference = read_reference();
  Result<std::unique_ptr<Tokenizer>> tokenizer = load_tokenizer(kDemoDir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  ASSERT_FALSE((*tokenizer)->chat_template().empty());
  int chats = 0;
  for (const Json& sample : reference["samples"]) {
    const auto prompt = sample["prompt"].get<std::string>();
    SCOPED_TRACE(prompt);
    std::string text = prompt;
    EncodeOptions options{.add_bos = true};
    if (sample["chat"].get<bool>()) {
      ++chats;
      const std::vector<chat::ChatMessage> messages = {{.role = "user", .content = prompt}};
      Result<std::string> rendered = chat::render_chat((*tokenizer)->chat_template(), messages,
                                                       chat::ChatRenderOptions{.add_generation_prompt = true});
      ASSERT_TRUE(rendered.ok()) << rendered.error().to_string();
      text = *rendered;
      options = EncodeOptions{.add_bos = false, .parse_special = true};  // the template wrote BOS
    }
    Result<std::vector<int32_t>> ids = (*tokenizer)->encode(text, options);
    ASSERT_TRUE(ids.ok()) << ids.error().to_string();
    EXPECT_EQ(*ids, sample["prompt_ids"].get<std::vector<int32_t>>());
    Result<std::string> decoded = (*tokenizer)->decode(sample["greedy_ids"].get<std::vector<int32_t>>(), DecodeOptions{});
    ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
    EXPECT_EQ(*decoded, sample["text"].get<std::string>());
  }
  EXPECT_GE(chats, 1);
}

// The demo model's greedy continuations (models/demo/reference_samples.json, transformers float32):
// our forward pass picks the same tokens.
TEST(DemoModelGeneration, GreedyMatchesPyTorch) {
  const Json reference = read_reference();
  Result<std::unique_ptr<LoadedModel>> loaded = load_model(kDemoDir, LoadOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  Result<std::unique_ptr<Backend>> backend = create_backend(BackendOptions{.device = "cpu"});
  ASSERT_TRUE(backend.ok()) << backend.error().to_string();

  int samples = 0;
  for (const Json& sample : reference["samples"]) {
    ++samples;
    const auto prompt_ids = sample["prompt_ids"].get<std::vector<int32_t>>();
    const auto greedy_ids = sample["greedy_ids"].get<std::vector<int32_t>>();
    SCOPED_TRACE(sample["prompt"].get<std::string>());
    const auto total = static_cast<int32_t>(prompt_ids.size() + greedy_ids.size());
    KvManager kv((total + 15) / 16, 16);
    Result<std::unique_ptr<LlamaModel>> model =
        LlamaModel::create(**backend, **loaded, KvCacheOptions{.n_blocks = kv.pool().n_blocks(), .block_size = 16});
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    Result<GenerateResult> result =
        generate(**model, kv, prompt_ids, GenerateOptions{.max_tokens = static_cast<int32_t>(greedy_ids.size())});
    ASSERT_TRUE(result.ok()) << result.error().to_string();
    EXPECT_EQ(result->tokens, greedy_ids);
  }
  EXPECT_GE(samples, 4);
}

}  // namespace
}  // namespace llm
