// Every fixture in every format gives transformers' greedy tokens exactly and its logits within
// 1e-4. Fixtures and expected values come from tools/make_fixtures.py (transformers, float32, on
// the weights exactly as each variant stores them).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "backend/registry.h"
#include "engine/generator.h"
#include "model/llama/llama_model.h"
#include "model/loader.h"
#include "util/json.h"
#include "util/mapped_file.h"

namespace llm {
namespace {

namespace fs = std::filesystem;

struct Variant {
  std::string name;  // "gqa-llama3/hf"
  fs::path dir;
};

std::vector<Variant> all_variants() {
  std::vector<Variant> variants;
  fs::path root = fs::path(LLAMA_SOURCE_DIR) / "tests/fixtures/models";
  if (!fs::exists(root)) return variants;
  for (const auto& fixture : fs::directory_iterator(root)) {
    if (!fixture.is_directory()) continue;
    for (const auto& variant : fs::directory_iterator(fixture.path())) {
      if (fs::exists(variant.path() / "expected.json")) {
        variants.push_back({fixture.path().filename().string() + "/" + variant.path().filename().string(),
                            variant.path()});
      }
    }
  }
  std::sort(variants.begin(), variants.end(), [](const Variant& a, const Variant& b) { return a.name < b.name; });
  return variants;
}

struct Expected {
  std::vector<int32_t> prompt;
  std::vector<int32_t> greedy;
  std::vector<float> logits;  // [greedy.size(), vocab]
  int64_t vocab = 0;
};

Expected read_expected(const fs::path& dir) {
  Expected expected;
  Json json = parse_json(read_text_file((dir / "expected.json").string()).value(), "expected.json").value();
  expected.prompt = json["prompt_tokens"].get<std::vector<int32_t>>();
  expected.greedy = json["greedy_tokens"].get<std::vector<int32_t>>();
  expected.vocab = json["logits_shape"][1].get<int64_t>();
  std::ifstream in(dir / "logits.f32", std::ios::binary);
  expected.logits.resize(expected.greedy.size() * static_cast<size_t>(expected.vocab));
  in.read(reinterpret_cast<char*>(expected.logits.data()), static_cast<std::streamsize>(expected.logits.size() * 4));
  EXPECT_TRUE(in.good()) << "logits.f32 of " << dir;
  return expected;
}

// The path a user would pass: the directory, or the .gguf inside a gguf-* variant.
std::string model_path(const fs::path& dir) {
  if (fs::exists(dir / "model.gguf")) return (dir / "model.gguf").string();
  return dir.string();
}

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
  double worst = 0;
  size_t worst_index = 0;
  for (size_t i = 0; i < expected.logits.size(); ++i) {
    double diff = std::fabs(static_cast<double>(result->step_logits[i]) - expected.logits[i]);
    if (diff > worst || std::isnan(diff)) {
      worst = std::isnan(diff) ? INFINITY : diff;
      worst_index = i;
    }
  }
  EXPECT_LE(worst, 1e-4) << "step " << worst_index / static_cast<size_t>(expected.vocab) << " token "
                         << worst_index % static_cast<size_t>(expected.vocab) << ": ours "
                         << result->step_logits[worst_index] << ", transformers " << expected.logits[worst_index];
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
  std::string name = info.param.variant.name + "_" + info.param.device;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, testing::ValuesIn(all_cases()), case_name);

TEST(GoldenFixtures, AreThere) {
  EXPECT_GE(all_variants().size(), 10u) << "tests/fixtures/models is missing or incomplete";
}

}  // namespace
}  // namespace llm
