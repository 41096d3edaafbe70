// llama perplexity: the window plan, and the demo model's perplexity on a held-out slice against
// PyTorch. The expected values (models/demo/reference_perplexity.json) come from
// tools/demo_model/reference_perplexity.py (transformers, float32), not from this code.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/registry.h"
#include "cli/perplexity_command.h"
#include "model/llama/llama_model.h"
#include "model/loader.h"
#include "tokenizer/tokenizer.h"
#include "util/json.h"
#include "util/mapped_file.h"

namespace llm {
namespace {

const std::string kDemoDir = std::string(LLAMA_SOURCE_DIR) + "/models/demo";

std::vector<std::tuple<int64_t, int64_t, int64_t>> plan(int64_t n_tokens, int32_t ctx, int32_t stride) {
  std::vector<std::tuple<int64_t, int64_t, int64_t>> out;
  Result<std::vector<PerplexityWindow>> windows = perplexity_windows(n_tokens, ctx, stride);
  for (const PerplexityWindow& w : windows.value()) {
    out.emplace_back(w.begin, w.end, w.first_target);
  }
  return out;
}

TEST(PerplexityWindows, EveryTokenAfterTheFirstScoredOnce) {
  using W = std::vector<std::tuple<int64_t, int64_t, int64_t>>;
  EXPECT_EQ(plan(10, 4, 2), (W{{0, 4, 1}, {2, 6, 4}, {4, 8, 6}, {6, 10, 8}}));
  EXPECT_EQ(plan(3, 8, 4), (W{{0, 3, 1}}));  // one short window
  EXPECT_EQ(plan(9, 4, 3), (W{{0, 4, 1}, {3, 7, 4}, {6, 9, 7}}));
}

TEST(PerplexityWindows, StrideEqualToContextSkipsEachWindowsFirstToken) {
  using W = std::vector<std::tuple<int64_t, int64_t, int64_t>>;
  EXPECT_EQ(plan(10, 4, 4), (W{{0, 4, 1}, {4, 8, 5}, {8, 10, 9}}));
}

TEST(PerplexityWindows, RejectsBadArguments) {
  EXPECT_EQ(perplexity_windows(10, 4, 5).error().message, "stride 5: expected 1 <= stride <= ctx (4)");
  EXPECT_EQ(perplexity_windows(10, 4, 0).error().message, "stride 0: expected 1 <= stride <= ctx (4)");
  EXPECT_EQ(perplexity_windows(1, 4, 2).error().message, "the text is 1 tokens: nothing to predict");
  EXPECT_EQ(perplexity_windows(10, 1, 1).error().message, "ctx 1: expected at least 2");
}

// The demo model on the first verses of its held-out text, every slice case the reference holds.
TEST(DemoModelPerplexity, MatchesPyTorchOnHeldOutSlice) {
  Result<std::string> reference_text = read_text_file(kDemoDir + "/reference_perplexity.json");
  ASSERT_TRUE(reference_text.ok()) << reference_text.error().to_string();
  const Json reference = Json::parse(*reference_text);
  Result<std::string> text = read_text_file(kDemoDir + "/heldout_slice.txt");
  ASSERT_TRUE(text.ok()) << text.error().to_string();

  Result<std::unique_ptr<Tokenizer>> tokenizer = load_tokenizer(kDemoDir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  Result<std::vector<int32_t>> ids = (*tokenizer)->encode(*text, EncodeOptions{.add_bos = true});
  ASSERT_TRUE(ids.ok()) << ids.error().to_string();

  Result<std::unique_ptr<LoadedModel>> loaded = load_model(kDemoDir, LoadOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  Result<std::unique_ptr<Backend>> backend = create_backend(BackendOptions{.device = "cpu"});
  ASSERT_TRUE(backend.ok()) << backend.error().to_string();

  int cases = 0;
  for (const Json& expected : reference["results"]) {
    if (expected["file"] != "heldout_slice.txt") continue;
    ++cases;
    const auto ctx = expected["ctx"].get<int32_t>();
    const auto stride = expected["stride"].get<int32_t>();
    SCOPED_TRACE(testing::Message() << "ctx " << ctx << " stride " << stride);
    // The tokenizer first: a difference here is not the forward pass's.
    ASSERT_EQ(*ids, expected["token_ids"].get<std::vector<int32_t>>());

    Result<std::unique_ptr<LlamaModel>> model =
        LlamaModel::create(**backend, **loaded, KvCacheOptions{.n_blocks = (ctx + 15) / 16, .block_size = 16});
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    Result<PerplexityResult> result =
        sliding_window_perplexity(**model, *ids, PerplexityOptions{.ctx = ctx, .stride = stride});
    ASSERT_TRUE(result.ok()) << result.error().to_string();
    EXPECT_EQ(result->n_tokens, expected["n_tokens"].get<int64_t>());
    EXPECT_EQ(result->n_scored, expected["n_scored"].get<int64_t>());
    EXPECT_EQ(result->n_windows, expected["n_windows"].get<int64_t>());
    const double expected_ppl = expected["ppl"].get<double>();
    EXPECT_NEAR(result->perplexity(), expected_ppl, 1e-3 * expected_ppl);  // within 0.1%
  }
  EXPECT_GE(cases, 2);
}

}  // namespace
}  // namespace llm
