// Sharding rules and their refusals: which heads, kv heads, ffn rows and vocab rows each rank
// gets; the exact messages for layouts a model cannot take; slices assembled across Meta MP
// shards; a missing Meta shard; a rank that fails while loading stops every rank, never hangs.
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "backend/registry.h"
#include "model/loader.h"
#include "model/parallel_executor.h"
#include "model/shard.h"
#include "model/synthetic.h"
#include "model/tensor_parallel.h"

namespace llm {
namespace {

namespace fs = std::filesystem;

// Sources with the storage dtypes of a checkpoint but no bytes: the plan only reads dtypes.
LlamaWeightSources sources_of(const LlamaConfig& config, DType wo_dtype, DType w2_dtype) {
  LlamaWeightSources sources;
  sources.layers.resize(static_cast<size_t>(config.n_layers));
  for (size_t i = 0; i < sources.layers.size(); ++i) {
    sources.layers[i].wo = WeightSource{.name = str("blk.", i, ".attn_output.weight"), .dtype = wo_dtype};
    sources.layers[i].w2 = WeightSource{.name = str("blk.", i, ".ffn_down.weight"), .dtype = w2_dtype};
  }
  return sources;
}

LlamaConfig llama3_8b() { return synthetic_config("llama3.1-8b").value(); }

TEST(TensorParallelPlan, SplitsHeadsKvHeadsFfnAndVocab) {
  LlamaConfig c = llama3_8b();  // 32 heads, 8 kv heads, ffn 14336, vocab 128256
  LlamaWeightSources s = sources_of(c, DType::kBF16, DType::kBF16);
  RankShard shard = plan_rank_shard(c, s, ParallelLayout{.tensor_parallel = 4}, 1, 0);
  EXPECT_EQ(shard.q_heads, (Range{8, 16}));
  EXPECT_EQ(shard.kv_heads, (Range{2, 4}));
  EXPECT_EQ(shard.ffn, (Range{3584, 7168}));
  EXPECT_EQ(shard.vocab, (Range{32064, 64128}));
  EXPECT_EQ(shard.layers, (Range{0, 32}));
}

TEST(TensorParallelPlan, ReplicatesKvHeadsWhenRanksOutnumberThem) {
  LlamaConfig c = llama3_8b();
  LlamaWeightSources s = sources_of(c, DType::kBF16, DType::kBF16);
  // 16 ranks over 8 kv heads: ranks 2k and 2k+1 share kv head k, and split its 4 query heads.
  for (int rank = 0; rank < 16; ++rank) {
    RankShard shard = plan_rank_shard(c, s, ParallelLayout{.tensor_parallel = 16}, rank, 0);
    EXPECT_EQ(shard.kv_heads, (Range{rank / 2, rank / 2 + 1})) << rank;
    EXPECT_EQ(shard.q_heads, (Range{2 * rank, 2 * rank + 2})) << rank;
  }
}

TEST(TensorParallelPlan, PipelineStagesSplitLayers) {
  LlamaConfig c = llama3_8b();
  LlamaWeightSources s = sources_of(c, DType::kBF16, DType::kBF16);
  ParallelLayout layout{.tensor_parallel = 2, .pipeline_parallel = 3};
  EXPECT_EQ(plan_rank_shard(c, s, layout, 0, 0).layers, (Range{0, 11}));
  EXPECT_EQ(plan_rank_shard(c, s, layout, 1, 1).layers, (Range{11, 22}));
  RankShard last = plan_rank_shard(c, s, layout, 1, 2);
  EXPECT_EQ(last.layers, (Range{22, 32}));
  EXPECT_TRUE(last.last_stage());
  EXPECT_FALSE(last.first_stage());
}

TEST(TensorParallelPlan, RefusesFiveRanksOnThirtyTwoHeads) {
  LlamaConfig c = llama3_8b();
  Status status = validate_parallel_layout(c, sources_of(c, DType::kBF16, DType::kBF16),
                                           ParallelLayout{.tensor_parallel = 5});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.error().message,
            "tensor-parallel size 5: 32 attention heads do not split into 5 equal groups of whole heads; valid sizes "
            "for this model are 1, 2, 4, 8, 16, 32");
}

TEST(TensorParallelPlan, RefusesKvHeadsThatNeitherSplitNorReplicate) {
  LlamaConfig c = synthetic_config("llama-100m").value();  // 12 heads, 4 kv heads
  Status status = validate_parallel_layout(c, sources_of(c, DType::kBF16, DType::kBF16),
                                           ParallelLayout{.tensor_parallel = 6});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message,
            "tensor-parallel size 6: 4 kv heads neither split into 6 equal groups nor replicate evenly onto 6 ranks; "
            "valid sizes for this model are 1, 2, 4, 12");
}

TEST(TensorParallelPlan, QuantizedColumnsSplitOnlyOnBlockBoundaries) {
  LlamaConfig c = llama3_8b();  // head_dim 128: 32 ranks would cut wo every 128 columns
  Status status = validate_parallel_layout(c, sources_of(c, DType::kQ4_K, DType::kQ6_K),
                                           ParallelLayout{.tensor_parallel = 32});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message,
            "tensor-parallel size 32: blk.0.attn_output.weight is q4_k (blocks of 256 columns) and 32 ranks would "
            "split it at 128-column boundaries; valid sizes for this model are 1, 2, 4, 8, 16");
  // The ffn splits in whole 256-column blocks of w2, unevenly where it must.
  RankShard shard = plan_rank_shard(c, sources_of(c, DType::kQ4_K, DType::kQ6_K),
                                    ParallelLayout{.tensor_parallel = 16}, 15, 0);
  EXPECT_EQ(shard.ffn.size() % 256, 0);
  EXPECT_EQ(shard.ffn.end, 14336);
}

TEST(TensorParallelPlan, RefusesMoreStagesThanLayers) {
  LlamaConfig c = llama3_8b();
  Status status = validate_parallel_layout(c, sources_of(c, DType::kBF16, DType::kBF16),
                                           ParallelLayout{.tensor_parallel = 1, .pipeline_parallel = 33});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message,
            "pipeline-parallel size 33: the model has 32 layers, so 1 to 32 pipeline stages are possible");
}

// A [4, 6] f32 tensor stored as two MP parts split along `dim`.
struct SplitTensor {
  std::vector<float> whole, part0, part1;
  WeightSource source;
};
SplitTensor split_tensor(int dim) {
  SplitTensor t;
  t.whole.resize(24);
  std::iota(t.whole.begin(), t.whole.end(), 0.0f);
  Shape part_shape = dim == 0 ? Shape{2, 6} : Shape{4, 3};
  for (int r = 0; r < 4; ++r) {
    for (int col = 0; col < 6; ++col) {
      bool first = dim == 0 ? r < 2 : col < 3;
      (first ? t.part0 : t.part1).push_back(t.whole[static_cast<size_t>(r * 6 + col)]);
    }
  }
  t.source = WeightSource{.name = "w", .dtype = DType::kF32, .shape = {4, 6}, .split_dim = dim,
                          .parts = {TensorView{t.part0.data(), DType::kF32, part_shape},
                                    TensorView{t.part1.data(), DType::kF32, part_shape}}};
  return t;
}

std::vector<float> values(TensorView view) {
  const float* data = view.as<float>();
  return std::vector<float>(data, data + view.numel());
}

TEST(SliceWeight, RowsInsideOneShardAreViewsIntoIt) {
  SplitTensor t = split_tensor(0);
  std::vector<std::vector<std::byte>> owned;
  TensorView rows = slice_weight(t.source, Range{2, 4}, Range{0, 6}, owned).value();
  EXPECT_EQ(rows.data, t.part1.data());
  EXPECT_TRUE(owned.empty());
}

TEST(SliceWeight, SlicesAcrossShardsAreAssembled) {
  for (int dim : {0, 1}) {
    SplitTensor t = split_tensor(dim);
    std::vector<std::vector<std::byte>> owned;
    TensorView slice = slice_weight(t.source, Range{1, 3}, Range{2, 5}, owned).value();
    EXPECT_EQ(slice.shape, (Shape{2, 3}));
    EXPECT_EQ(values(slice), (std::vector<float>{8, 9, 10, 14, 15, 16})) << "split along " << dim;
    EXPECT_EQ(owned.size(), 1u);
  }
}

TEST(SliceWeight, QuantizedColumnsOffABlockBoundaryAreRefused) {
  std::vector<std::byte> bytes(2 * 2 * 34);  // [2, 64] q8_0: two blocks per row
  WeightSource source{.name = "blk.0.attn_output.weight", .dtype = DType::kQ8_0, .shape = {2, 64},
                      .parts = {TensorView{bytes.data(), DType::kQ8_0, Shape{2, 64}}}};
  std::vector<std::vector<std::byte>> owned;
  EXPECT_TRUE(slice_weight(source, Range{0, 2}, Range{32, 64}, owned).ok());
  auto bad = slice_weight(source, Range{0, 2}, Range{16, 48}, owned);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "blk.0.attn_output.weight: columns [16, 48) cut through q8_0 blocks of 32 "
                                 "(quantized weights split along dim 1 only on block boundaries)");
}

fs::path fixture(const std::string& name) { return fs::path(LLAMA_SOURCE_DIR) / "tests/fixtures/models" / name; }

TEST(MetaShards, AMissingLastShardIsNamed) {
  fs::path dir = fs::temp_directory_path() / ("llm_tp_missing_shard_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(fixture("mha-tied/meta-mp2"), dir, fs::copy_options::recursive);
  fs::remove(dir / "consolidated.01.pth");
  auto model = load_model(dir.string(), LoadOptions{});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().message,
            dir.string() + ": consolidated.01.pth is missing: the checkpoint was saved for MP=2 (consolidated.00.pth "
                           "holds [32, 64] of layers.0.attention.wq.weight, the model needs [64, 64]) but only 1 "
                           "shard(s) are present");
  fs::remove_all(dir);
}

TEST(MetaShards, EachRankCopiesOnlyItsSlice) {
  auto loaded = load_model(fixture("mha-tied/meta-mp2").string(), LoadOptions{}).value();
  const LlamaConfig& c = loaded->config;
  ParallelLayout layout{.tensor_parallel = 2};
  // MP=2 on 2 ranks: every column-parallel weight is its shard, zero copy; wo and w2 shards are
  // exactly the ranks' columns, so nothing at all is copied.
  ShardWeights rank1 = build_shard_weights(loaded->sources, c, plan_rank_shard(c, loaded->sources, layout, 1, 0)).value();
  EXPECT_EQ(rank1.copied_bytes, 0);
  EXPECT_EQ(rank1.weights.layers[0].wq.data, loaded->sources.layers[0].wq.parts[1].data);
  // The same checkpoint on one rank assembles whole tensors: the split ones are copied once.
  ShardWeights whole = build_shard_weights(loaded->sources, c, plan_rank_shard(c, loaded->sources, {}, 0, 0)).value();
  EXPECT_GT(whole.copied_bytes, 0);
}

TEST(ParallelExecutor, ARankThatFailsToLoadStopsEveryRank) {
  auto loaded = load_model(fixture("gqa-llama3/hf").string(), LoadOptions{}).value();
  auto executor = ParallelExecutor::create(
      *loaded, ParallelExecutorOptions{
                   .layout = ParallelLayout{.tensor_parallel = 2, .pipeline_parallel = 2},
                   .kv = KvCacheOptions{.n_blocks = 4, .block_size = 4},
                   .make_backend = [](int rank) -> Result<std::unique_ptr<Backend>> {
                     if (rank == 2) return make_error(ErrorCode::kOutOfMemory, "device 2: 0 bytes free");
                     return create_backend(BackendOptions{.device = "cpu", .n_threads = 1});
                   },
               });
  ASSERT_FALSE(executor.ok());
  EXPECT_EQ(executor.error().message, "rank 2 (tp 0, stage 1): device 2: 0 bytes free");
}

}  // namespace
}  // namespace llm
