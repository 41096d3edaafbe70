// Tensor and pipeline parallelism on CPU ranks (the thread communicator): on every fixture
// variant, every valid layout gives the same greedy tokens as TP=1 and logits within 1e-5 of it,
// and transformers' tokens and logits (1e-4). Meta MP=2 checkpoints run on 1, 2 and 4 ranks and
// MP=1 checkpoints on 2 (the scenario of "Loading a checkpoint for MP=1 but world size is 2").
// Layouts the model cannot take are refused with a message that names the valid sizes.
#include <gtest/gtest.h>

#include <map>

#include "backend/registry.h"
#include "engine/generator.h"
#include "model/loader.h"
#include "model/parallel_executor.h"
#include "model/synthetic.h"
#include "util/str.h"
#include "model/fixture_variants.h"  // tests/model/

namespace llm {
namespace {

using fixtures::Variant;

constexpr int32_t kBlocks = 16, kBlockSize = 4;

GenerateOptions greedy_options(const fixtures::Expected& expected) {
  // Short prefill chunks and small blocks exercise chunked prefill and paging on every rank.
  return GenerateOptions{.max_tokens = static_cast<int32_t>(expected.greedy.size()),
                         .ignore_eos = true,
                         .prefill_chunk = 3,
                         .keep_logits = true};
}

// The single-device run (LlamaModel, no executor): the reference every layout must match.
const GenerateResult& single_device_run(const Variant& variant) {
  static std::map<std::string, GenerateResult> cache;
  auto it = cache.find(variant.name);
  if (it != cache.end()) return it->second;
  fixtures::Expected expected = fixtures::read_expected(variant.dir);
  auto loaded = load_model(fixtures::model_path(variant.dir), LoadOptions{});
  EXPECT_TRUE(loaded.ok()) << loaded.error().to_string();
  auto backend = create_backend(BackendOptions{.device = "cpu", .n_threads = 1});
  auto model = LlamaModel::create(**backend, **loaded, KvCacheOptions{.n_blocks = kBlocks, .block_size = kBlockSize});
  EXPECT_TRUE(model.ok()) << model.error().to_string();
  KvManager kv(kBlocks, kBlockSize);
  auto result = generate(**model, kv, expected.prompt, greedy_options(expected));
  EXPECT_TRUE(result.ok()) << result.error().to_string();
  return cache.emplace(variant.name, std::move(*result)).first->second;
}

struct ParallelCase {
  Variant variant;
  ParallelLayout layout;
};

void PrintTo(const ParallelCase& c, std::ostream* out) {
  *out << c.variant.name << " tp " << c.layout.tensor_parallel << " pp " << c.layout.pipeline_parallel;
}

class ParallelGolden : public testing::TestWithParam<ParallelCase> {};

TEST_P(ParallelGolden, MatchesSingleDeviceAndTransformers) {
  const ParallelCase& c = GetParam();
  fixtures::Expected expected = fixtures::read_expected(c.variant.dir);
  auto loaded = load_model(fixtures::model_path(c.variant.dir), LoadOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  auto executor = ParallelExecutor::create(
      **loaded, ParallelExecutorOptions{
                    .layout = c.layout,
                    .kv = KvCacheOptions{.n_blocks = kBlocks, .block_size = kBlockSize},
                    .make_backend = [](int) { return create_backend(BackendOptions{.device = "cpu", .n_threads = 1}); },
                });
  Status valid = validate_parallel_layout((*loaded)->config, (*loaded)->sources, c.layout);
  if (!valid) {  // a layout this model cannot take: refused, naming the valid sizes
    ASSERT_FALSE(executor.ok());
    EXPECT_EQ(executor.error().message, valid.error().message);
    const std::string& message = valid.error().message;
    EXPECT_TRUE(message.find("; valid sizes for this model are 1") != std::string::npos ||
                message.find("pipeline stages are possible") != std::string::npos)
        << message;
    return;  // the refusal is this case's expected outcome
  }
  ASSERT_TRUE(executor.ok()) << executor.error().to_string();
  ASSERT_EQ((*executor)->world_size(), c.layout.tensor_parallel * c.layout.pipeline_parallel);
  KvManager kv(kBlocks, kBlockSize);
  auto result = generate(**executor, kv, expected.prompt, greedy_options(expected));
  ASSERT_TRUE(result.ok()) << result.error().to_string();

  const GenerateResult& single = single_device_run(c.variant);
  EXPECT_EQ(result->tokens, single.tokens) << "vs TP=1";
  EXPECT_EQ(result->tokens, expected.greedy) << "vs transformers";
  fixtures::Worst vs_single = fixtures::worst_difference(result->step_logits, single.step_logits, expected.vocab);
  EXPECT_LE(vs_single.diff, 1e-5) << "vs TP=1 at " << vs_single.where;
  fixtures::Worst vs_reference = fixtures::worst_difference(result->step_logits, expected.logits, expected.vocab);
  EXPECT_LE(vs_reference.diff, 1e-4) << "vs transformers at " << vs_reference.where;
  EXPECT_EQ(kv.pool().n_free(), kBlocks) << "every KV block comes back";
}

// A synthetic model has no bytes to slice: each rank makes its own slices (SyntheticFill with
// the rank's rows and columns). Every layout must make the same model as one device.
TEST(SyntheticModel, EveryLayoutMakesTheSameModel) {
  LlamaConfig config = synthetic_config("llama-100m").value();
  config.dim = 128;
  config.n_layers = 4;
  config.n_heads = 4;
  config.n_kv_heads = 2;
  config.head_dim = 32;
  config.ffn_dim = 256;
  config.vocab_size = 512;
  auto loaded = make_synthetic_model(config, SyntheticOptions{.dtype = DType::kF32, .seed = 11}).value();
  const std::vector<int32_t> prompt = {1, 200, 3, 77, 5, 300, 8};
  const GenerateOptions options{.max_tokens = 6, .ignore_eos = true, .prefill_chunk = 3, .keep_logits = true};
  auto backend = create_backend(BackendOptions{.device = "cpu", .n_threads = 1}).value();
  auto single_model =
      LlamaModel::create(*backend, *loaded, KvCacheOptions{.n_blocks = kBlocks, .block_size = kBlockSize}).value();
  KvManager single_kv(kBlocks, kBlockSize);
  GenerateResult single = generate(*single_model, single_kv, prompt, options).value();
  for (ParallelLayout layout : {ParallelLayout{2, 1}, ParallelLayout{1, 2}, ParallelLayout{2, 2}}) {
    SCOPED_TRACE(str("tp ", layout.tensor_parallel, " pp ", layout.pipeline_parallel));
    auto executor = ParallelExecutor::create(
        *loaded, ParallelExecutorOptions{
                     .layout = layout,
                     .kv = KvCacheOptions{.n_blocks = kBlocks, .block_size = kBlockSize},
                     .make_backend = [](int) { return create_backend(BackendOptions{.device = "cpu", .n_threads = 1}); },
                 });
    ASSERT_TRUE(executor.ok()) << executor.error().to_string();
    KvManager kv(kBlocks, kBlockSize);
    GenerateResult result = generate(**executor, kv, prompt, options).value();
    EXPECT_EQ(result.tokens, single.tokens);
    fixtures::Worst worst = fixtures::worst_difference(result.step_logits, single.step_logits, config.vocab_size);
    EXPECT_LE(worst.diff, 1e-5) << "at " << worst.where;
  }
}

std::vector<ParallelCase> all_cases() {
  std::vector<ParallelCase> cases;
  const ParallelLayout layouts[] = {{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {1, 2}, {2, 2}};
  for (const Variant& variant : fixtures::all_variants()) {
    for (const ParallelLayout& layout : layouts) cases.push_back({variant, layout});
  }
  return cases;
}

std::string case_name(const testing::TestParamInfo<ParallelCase>& info) {
  return fixtures::test_name(info.param.variant.name + "_tp" + std::to_string(info.param.layout.tensor_parallel) +
                             "_pp" + std::to_string(info.param.layout.pipeline_parallel));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ParallelGolden, testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace llm
