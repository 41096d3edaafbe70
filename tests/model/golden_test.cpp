// Every fixture in every format gives transformers' greedy tokens exactly and its logits within
// 1e-4. Fixtures and expected values come from tools/make_fixtures.py (transformers, float32, on
// the weights exactly as each variant stores them).
#include <gtest/gtest.h>

#include <cstdlib>

#include "backend/registry.h"
#include "engine/generator.h"
#include "model/llama/llama_model.h"
#include "model/loader.h"
#include "fixture_variants.h"

namespace llm {
namespace {

using fixtures::all_variants;
using fixtures::Expected;
using fixtures::model_path;
using fixtures::read_expected;
using fixtures::Variant;

struct GoldenCase {
  Variant variant;
  std::string device;
};

class GoldenTest : public testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, MatchesTransformers) {
  const GoldenCase& c = GetParam();
  Expected expected = read_expected(c.variant.dir);
  Result<std::unique_ptr<LoadedModel>> loaded = load_model(model_path(c.variant.dir), LoadOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  ASSERT_EQ((*loaded)->config.vocab_size, expected.vocab);
  Result<std::unique_ptr<Backend>> backend = create_backend(BackendOptions{.device = c.device, .n_threads = 2});
  ASSERT_TRUE(backend.ok()) << backend.error().to_string();
  // Small blocks and short prefill chunks exercise paging and chunked prefill.
  KvManager kv(/*n_blocks=*/16, /*block_size=*/4);
  Result<std::unique_ptr<LlamaModel>> model = LlamaModel::create(
      **backend, **loaded, KvCacheOptions{.n_blocks = 16, .block_size = 4});
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  GenerateOptions options{.max_tokens = static_cast<int32_t>(expected.greedy.size()),
                          .ignore_eos = true,
                          .prefill_chunk = 3,
                          .keep_logits = true};
  Result<GenerateResult> result = generate(**model, kv, expected.prompt, options);
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  EXPECT_EQ(result->tokens, expected.greedy);
  ASSERT_EQ(result->step_logits.size(), expected.logits.size());
  fixtures::Worst worst = fixtures::worst_difference(result->step_logits, expected.logits, expected.vocab);
  EXPECT_LE(worst.diff, 1e-4) << "ours vs transformers at " << worst.where;
  EXPECT_EQ(kv.pool().n_free(), 16) << "every KV block comes back";
}

// Devices under test: LLAMA_TEST_DEVICES=cuda,cuda-fp32 (comma-separated) on a GPU machine
// (scripts/gpu-test.sh); the CPU backends otherwise.
std::vector<std::string> test_devices() {
  const char* listed = std::getenv("LLAMA_TEST_DEVICES");
  if (listed == nullptr || *listed == '\0') return {"cpu", "cpu-reference"};
  std::vector<std::string> devices;
  std::string current;
  for (const char* p = listed;; ++p) {
    if (*p == ',' || *p == '\0') {
      if (!current.empty()) devices.push_back(current);
      current.clear();
      if (*p == '\0') break;
    } else {
      current += *p;
    }
  }
  return devices;
}

std::vector<GoldenCase> all_cases() {
  std::vector<GoldenCase> cases;
  for (const Variant& variant : all_variants()) {
    for (const std::string& device : test_devices()) cases.push_back({variant, device});
  }
  return cases;
}

std::string case_name(const testing::TestParamInfo<GoldenCase>& info) {
  return fixtures::test_name(info.param.variant.name + "_" + info.param.device);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, testing::ValuesIn(all_cases()), case_name);

TEST(GoldenFixtures, AreThere) {
  EXPECT_GE(all_variants().size(), 10u) << "tests/fixtures/models is missing or incomplete";
}

}  // namespace
}  // namespace llm
