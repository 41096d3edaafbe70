// Every CUDA op against the CPU reference kernels (reference_ops.h, the truth) on odd shapes and
// every dtype, on both CUDA precisions. Outputs start as NaN. Needs a GPU: run by
// scripts/gpu-test.sh, not by ctest (CI has no GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <utility>

#include "backend/cpu/reference_ops.h"
#include "backend/cuda/cuda_test_util.h"
#include "backend/paged_attention_scenario.h"
#include "backend/sampling_cases.h"

namespace llm::test {
namespace {

const DType kAllWeightTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0,
                                 DType::kQ4_0, DType::kQ4_K, DType::kQ6_K};

// Tolerance per output: `relative` times sum_c |x w| (the scale of any summation order's error,
// and of rounding x to bf16 when the product runs on tensor cores).
std::vector<double> linear_tolerance(const HostTensor& x, const HostTensor& weight, double relative) {
  int64_t n = x.view.shape[0], k = x.view.shape[1], m = weight.view.shape[0];
  std::vector<double> tolerance(static_cast<size_t>(n * m));
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t j = 0; j < m; ++j) {
    dequantize_row(weight.view.dtype, weight.bytes.data() + j * dtype_row_bytes(weight.view.dtype, k), row.data(), k);
    for (int64_t i = 0; i < n; ++i) {
      double magnitude = 0.0;
      for (int64_t c = 0; c < k; ++c) magnitude += std::fabs(static_cast<double>(x.view.as<const float>()[i * k + c]) * row[c]);
      tolerance[static_cast<size_t>(i * m + j)] = relative * magnitude + 1e-30;
    }
  }
  return tolerance;
}

class CudaOps : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = make_cuda(GetParam());
    ASSERT_NE(backend_, nullptr);
  }
  bool exact() const { return GetParam() == "cuda-fp32"; }
  std::unique_ptr<Backend> backend_;
};

TEST_P(CudaOps, Linear) {
  struct Shape3 {
    int64_t k, m;
  };
  for (DType dtype : kAllWeightTypes) {
    const int64_t block = dtype_info(dtype).block_size;
    std::vector<Shape3> shapes = block == 1 ? std::vector<Shape3>{{7, 13}, {64, 33}, {200, 5}, {1024, 70}}
                                            : std::vector<Shape3>{{block, 3}, {2 * block, 17}, {4 * block, 40}};
    if (block == 32) shapes.push_back({96, 21});
    for (const Shape3& s : shapes) {
      for (int64_t n : {1, 2, 3, 7, 8, 9, 33}) {
        SCOPED_TRACE(str(dtype_name(dtype), " n=", n, " k=", s.k, " m=", s.m));
        uint32_t seed = static_cast<uint32_t>(n * 7919 + s.k * 31 + s.m);
        HostTensor x = f32_tensor({n, s.k}, random_floats(n * s.k, seed));
        HostTensor weight = random_tensor(dtype, {s.m, s.k}, seed + 1);
        HostTensor expected(DType::kF32, {n, s.m});
        reference_linear(x.view, weight.view, expected.view);
        DeviceTensor x_device = upload(*backend_, x), weight_device = upload(*backend_, weight);
        DeviceTensor out = device_nan(*backend_, {n, s.m});
        backend_->linear(x_device.view, weight_device.view, out.view);
        HostTensor actual = download(*backend_, out);
        // Few rows and the f32 path accumulate in f32 from unrounded x; the tensor-core path
        // rounds x to bf16 (2^-9 relative) or f16 (2^-12).
        bool tensor_cores = n > 8 && !exact() && dtype != DType::kF32;
        double relative = !tensor_cores ? 1e-5 : dtype == DType::kF16 ? 2e-3 : 1e-2;
        expect_close(actual.f32(), expected.f32(), linear_tolerance(x, weight, relative), n * s.m, "linear");
      }
    }
  }
}

TEST_P(CudaOps, Embedding) {
  for (DType dtype : kAllWeightTypes) {
    // Dense: an odd width, and one of whole 16-byte vectors (the vectorized half kernel).
    const int64_t block = dtype_info(dtype).block_size;
    const std::vector<int64_t> dims = block == 1 ? std::vector<int64_t>{37, 296} : std::vector<int64_t>{2 * block};
    for (int64_t dim : dims) {
      const int64_t rows = 11;
      HostTensor table = random_tensor(dtype, {rows, dim}, 5);
      for (int64_t first_row : {0, 4}) {
        SCOPED_TRACE(str(dtype_name(dtype), " dim=", dim, " first_row=", first_row));
        // With first_row 4, ids 0..3 and 15.. belong to other vocab-parallel ranks: zero rows.
        HostTensor ids = first_row == 0 ? i32_tensor({0, 10, 3, 3, 7}) : i32_tensor({0, 4, 14, 15, 9, 3});
        HostTensor expected(DType::kF32, {ids.numel(), dim});
        reference_embedding(table.view, ids.view, expected.view, first_row);
        DeviceTensor table_device = upload(*backend_, table), ids_device = upload(*backend_, ids);
        DeviceTensor out = device_nan(*backend_, {ids.numel(), dim});
        backend_->embedding(table_device.view, ids_device.view, out.view, first_row);
        HostTensor actual = download(*backend_, out);
        expect_close(actual.f32(), expected.f32(), 0.0, 1e-6, ids.numel() * dim, "embedding");
      }
    }
  }
}

// The token embedding of an untied model lives in pinned host memory the kernels read in place.
TEST_P(CudaOps, EmbeddingFromHostMappedTable) {
  for (DType dtype : {DType::kBF16, DType::kF16, DType::kF32, DType::kQ4_K}) {
    SCOPED_TRACE(dtype_name(dtype));
    const int64_t dim = dtype == DType::kQ4_K ? 512 : 4096, rows = 300;
    HostTensor table = random_tensor(dtype, {rows, dim}, 17);
    Result<Buffer> mapped = backend_->allocate_host_mapped(static_cast<int64_t>(table.bytes.size()));
    ASSERT_TRUE(mapped.ok()) << mapped.error().to_string();
    std::memcpy(mapped->data(), table.bytes.data(), table.bytes.size());
    Result<DeviceMemory> memory = backend_->device_memory();
    ASSERT_TRUE(memory.ok());
    EXPECT_GE(memory->host_mapped_bytes, static_cast<int64_t>(table.bytes.size()));
    HostTensor ids = i32_tensor({299, 0, 17, 17, 150});
    HostTensor expected(DType::kF32, {ids.numel(), dim});
    reference_embedding(table.view, ids.view, expected.view, 0);
    DeviceTensor ids_device = upload(*backend_, ids);
    DeviceTensor out = device_nan(*backend_, {ids.numel(), dim});
    backend_->embedding(mapped->view(dtype, {rows, dim}), ids_device.view, out.view, 0);
    HostTensor actual = download(*backend_, out);
    expect_close(actual.f32(), expected.f32(), 0.0, 1e-6, ids.numel() * dim, "embedding");
  }
}

TEST_P(CudaOps, RmsNorm) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    // Odd sizes take the strided kernel; multiples of 4 up to 16,384 the in-register one (1, 4,
    // 16 float4s a thread, the last one partly filled); 20,000 the strided one again.
    for (int64_t dim : {1, 37, 300, 4097, 1024, 4096, 12292, 20000}) {
      for (bool in_place : {false, true}) {
        SCOPED_TRACE(str(dtype_name(dtype), " dim=", dim, in_place ? " in place" : ""));
        const int64_t n = 5;
        HostTensor x = f32_tensor({n, dim}, random_floats(n * dim, static_cast<uint32_t>(dim), -3.0f, 3.0f));
        HostTensor weight = random_tensor(dtype, {dim}, 9);
        HostTensor expected(DType::kF32, {n, dim});
        reference_rms_norm(x.view, weight.view, 1e-5f, expected.view);
        DeviceTensor x_device = upload(*backend_, x), weight_device = upload(*backend_, weight);
        DeviceTensor out = in_place ? upload(*backend_, x) : device_nan(*backend_, {n, dim});
        backend_->rms_norm(in_place ? out.view : x_device.view, weight_device.view, 1e-5f, out.view);
        HostTensor actual = download(*backend_, out);
        expect_close(actual.f32(), expected.f32(), 1e-6, 1e-5, n * dim, "rms_norm");
      }
    }
  }
}

TEST_P(CudaOps, Rope) {
  for (RopeLayout layout : {RopeLayout::kInterleaved, RopeLayout::kHalfSplit}) {
    for (int64_t head_dim : {2, 10, 64, 128}) {
      SCOPED_TRACE(str(layout == RopeLayout::kInterleaved ? "interleaved" : "half-split", " head_dim=", head_dim));
      const int64_t n = 6, n_heads = 3;
      HostTensor x = f32_tensor({n, n_heads, head_dim}, random_floats(n * n_heads * head_dim, 3));
      HostTensor positions = i32_tensor({0, 1, 7, 513, 8191, 131071});
      std::vector<float> frequencies(static_cast<size_t>(head_dim / 2));
      for (int64_t j = 0; j < head_dim / 2; ++j) {
        frequencies[static_cast<size_t>(j)] = static_cast<float>(std::pow(500000.0, -2.0 * j / head_dim));
      }
      HostTensor inv_freq = f32_tensor({head_dim / 2}, frequencies);
      DeviceTensor x_device = upload(*backend_, x), positions_device = upload(*backend_, positions),
                   freq_device = upload(*backend_, inv_freq);
      reference_rope(x.view, positions.view, inv_freq.view, layout);
      backend_->rope(x_device.view, positions_device.view, freq_device.view, layout);
      HostTensor actual = download(*backend_, x_device);
      expect_close(actual.f32(), x.f32(), 1e-6, 1e-6, x.numel(), "rope");
    }
  }
}

TEST_P(CudaOps, KvWriteIsExact) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const int64_t n = 5, n_kv_heads = 3, head_dim = 6, n_blocks = 4, block_size = 3;
    HostTensor k = f32_tensor({n, n_kv_heads, head_dim}, random_floats(n * n_kv_heads * head_dim, 1));
    HostTensor v = f32_tensor({n, n_kv_heads, head_dim}, random_floats(n * n_kv_heads * head_dim, 2));
    HostTensor slots = i32_tensor({11, 0, 5, 6, 2});
    HostTensor k_cache = random_tensor(dtype, {n_blocks, block_size, n_kv_heads, head_dim}, 3);
    HostTensor v_cache = random_tensor(dtype, {n_blocks, block_size, n_kv_heads, head_dim}, 4);
    DeviceTensor k_device = upload(*backend_, k), v_device = upload(*backend_, v), slots_device = upload(*backend_, slots);
    DeviceTensor k_cache_device = upload(*backend_, k_cache), v_cache_device = upload(*backend_, v_cache);
    reference_kv_write(k.view, v.view, KvCacheView{k_cache.view, v_cache.view}, slots.view);
    backend_->kv_write(k_device.view, v_device.view, KvCacheView{k_cache_device.view, v_cache_device.view},
                       slots_device.view);
    HostTensor k_actual = download(*backend_, k_cache_device), v_actual = download(*backend_, v_cache_device);
    EXPECT_EQ(std::memcmp(k_actual.bytes.data(), k_cache.bytes.data(), k_cache.bytes.size()), 0);
    EXPECT_EQ(std::memcmp(v_actual.bytes.data(), v_cache.bytes.data(), v_cache.bytes.size()), 0);
  }
}

TEST_P(CudaOps, SiluMulAddGather) {
  const int64_t n = 7, f = 333;
  HostTensor gate = f32_tensor({n, f}, random_floats(n * f, 1, -20.0f, 20.0f));
  HostTensor up = f32_tensor({n, f}, random_floats(n * f, 2));
  HostTensor rows = i32_tensor({6, 0, 3, 3});
  DeviceTensor gate_device = upload(*backend_, gate), up_device = upload(*backend_, up),
               rows_device = upload(*backend_, rows);

  HostTensor expected(DType::kF32, {n, f});
  reference_silu_mul(gate.view, up.view, expected.view);
  DeviceTensor out = device_nan(*backend_, {n, f});
  backend_->silu_mul(gate_device.view, up_device.view, out.view);
  expect_close(download(*backend_, out).f32(), expected.f32(), 1e-7, 1e-6, n * f, "silu_mul");

  reference_add(gate.view, up.view, expected.view);
  backend_->add(gate_device.view, up_device.view, gate_device.view);  // in place
  expect_close(download(*backend_, gate_device).f32(), expected.f32(), 0.0, 0.0, n * f, "add");

  HostTensor gathered(DType::kF32, {4, f});
  reference_gather_rows(expected.view, rows.view, gathered.view);
  DeviceTensor gathered_device = device_nan(*backend_, {4, f});
  backend_->gather_rows(gate_device.view, rows_device.view, gathered_device.view);
  expect_close(download(*backend_, gathered_device).f32(), gathered.f32(), 0.0, 0.0, 4 * f, "gather_rows");
}

// Paged attention against dense softmax(QK^T)V in double (paged_attention_scenario.h): shuffled
// blocks, NaN in every slot no sequence owns, decode rows and chunked-prefill rows mixed.
void check_attention(Backend& backend, const PagedScenario& scenario, const std::string& what,
                     double absolute = 2e-5, double relative = 1e-4) {
  SCOPED_TRACE(what);
  DeviceTensor q = upload(backend, scenario.q), k_cache = upload(backend, scenario.k_cache),
               v_cache = upload(backend, scenario.v_cache), query_start = upload(backend, scenario.query_start),
               positions = upload(backend, scenario.positions), tables = upload(backend, scenario.block_tables);
  DeviceTensor out = device_nan(backend, scenario.q.view.shape);
  AttentionBatch batch = scenario.batch();
  batch.query_start = query_start.view;
  batch.positions = positions.view;
  batch.block_tables = tables.view;
  backend.paged_attention(q.view, KvCacheView{k_cache.view, v_cache.view}, batch, out.view);
  HostTensor actual = download(backend, out);
  expect_close(actual.f32(), scenario.expected.data(), absolute, relative, scenario.q.numel(), "paged_attention");
}

void check_attention(Backend& backend, const PagedScenarioOptions& options, const std::string& what,
                     double absolute = 2e-5, double relative = 1e-4) {
  check_attention(backend, PagedScenario(options), what, absolute, relative);
}

// Block-table entries past each sequence's last block (the scenario points them at a spare
// block full of NaN) set to ids outside [0, n_blocks): -1 and n_blocks + 5 in turn. No key
// lives there, so the result must not change, and no kernel may follow them.
void poison_table_tails(PagedScenario& scenario) {
  const int64_t n_blocks = scenario.k_cache.view.shape[0], block_size = scenario.k_cache.view.shape[1];
  const int64_t table_width = scenario.block_tables.view.shape[1];
  for (size_t s = 0; s < scenario.options.sequences.size(); ++s) {
    const int64_t used = (scenario.options.sequences[s].context_length + block_size - 1) / block_size;
    for (int64_t b = used; b < table_width; ++b) {
      scenario.block_tables.i32()[s * table_width + b] = static_cast<int32_t>((b - used) % 2 == 0 ? -1 : n_blocks + 5);
    }
  }
}

TEST_P(CudaOps, PagedAttention) {
  for (DType cache_dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (auto [n_heads, n_kv_heads, head_dim] : {std::tuple{4, 2, 16}, std::tuple{6, 2, 64}, std::tuple{8, 8, 40},
                                                 std::tuple{32, 8, 128}, std::tuple{12, 1, 96}}) {
      for (int block_size : {1, 4, 16}) {
        PagedScenarioOptions options{
            .sequences = {{1, 1}, {9, 1}, {23, 5}, {40, 40}, {70, 3}},
            .block_size = block_size,
            .n_heads = n_heads,
            .n_kv_heads = n_kv_heads,
            .head_dim = head_dim,
            .cache_dtype = cache_dtype,
            .seed = static_cast<uint32_t>(n_heads * 100 + block_size),
        };
        check_attention(*backend_, options,
                        str(dtype_name(cache_dtype), " heads ", n_heads, "/", n_kv_heads, " head_dim ", head_dim,
                            " block_size ", block_size));
      }
    }
  }
}

// Long context: thousands of positions over hundreds of blocks, decode rows (many key splits) and
// a chunk of prefill rows at the end of a long sequence.
TEST_P(CudaOps, PagedAttentionLongContext) {
  for (DType cache_dtype : {DType::kF32, DType::kBF16}) {
    PagedScenarioOptions options{
        .sequences = {{8200, 1}, {9001, 17}, {3000, 1}},
        .block_size = 16,
        .n_heads = 8,
        .n_kv_heads = 2,
        .head_dim = 128,
        .cache_dtype = cache_dtype,
        .seed = 99,
    };
    check_attention(*backend_, options, str("long context, ", dtype_name(cache_dtype)));
  }
}

// Prefill chunks of 64+ rows: on "cuda" the 64-row tiles within one sequence run on tensor cores
// with 16-bit operands, and tiles straddling two sequences through the split kernel. Tolerance:
// the rounding of q and p to bf16 (2^-9 relative; f16: 2^-12) on outputs of order 0.1; a host
// emulation of the kernel's rounding (tools/gpu/prefill_attention_numerics.cpp) stays within 0.72
// of it for bf16 and 0.13 for f16 on these shapes.
TEST_P(CudaOps, PagedAttentionPrefill) {
  for (DType cache_dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int head_dim : {64, 128}) {
      for (int block_size : {5, 16}) {
        PagedScenarioOptions options{
            .sequences = {{200, 200}, {130, 70}, {64, 64}, {300, 1}, {1000, 128}},
            .block_size = block_size,
            .n_heads = 8,
            .n_kv_heads = 2,
            .head_dim = head_dim,
            .cache_dtype = cache_dtype,
            .seed = static_cast<uint32_t>(head_dim + block_size),
        };
        check_attention(*backend_, options,
                        str("prefill ", dtype_name(cache_dtype), " head_dim ", head_dim, " block_size ", block_size),
                        exact() ? 2e-5 : 2e-3, exact() ? 1e-4 : 1e-2);
      }
    }
  }
}

// Prefill tiles for GQA ratios 1 and 8 (the test above has 4) on every cache dtype and both
// head dims, with out-of-range block ids past every sequence's end. Sequences: a whole prompt
// that is not a multiple of 64 rows (97), a chunk starting mid-sequence at position 444 (not a
// multiple of 64; its tiles reach across two key tiles of the diagonal), a chunk of exactly one
// tile starting at 86, and a decode row (split kernel) in between.
TEST_P(CudaOps, PagedAttentionPrefillGqaRatios) {
  for (DType cache_dtype : {DType::kBF16, DType::kF16, DType::kF32}) {
    for (int head_dim : {64, 128}) {
      for (auto [n_heads, n_kv_heads] : {std::pair{4, 4}, std::pair{16, 2}}) {
        PagedScenarioOptions options{
            .sequences = {{97, 97}, {777, 333}, {40, 1}, {150, 64}},
            .block_size = 16,
            .n_heads = n_heads,
            .n_kv_heads = n_kv_heads,
            .head_dim = head_dim,
            .cache_dtype = cache_dtype,
            .seed = static_cast<uint32_t>(1000 + head_dim + n_heads),
        };
        PagedScenario scenario(options);
        poison_table_tails(scenario);
        check_attention(*backend_, scenario,
                        str("prefill ", dtype_name(cache_dtype), " head_dim ", head_dim, " heads ", n_heads, "/",
                            n_kv_heads),
                        exact() ? 2e-5 : 2e-3, exact() ? 1e-4 : 1e-2);
      }
    }
  }
}

// A long prompt on the default (bf16) cache: 2,100 rows over 2,100 keys, so the tensor-core
// kernel walks up to 33 key tiles per row tile through its double buffer; block size 16 puts
// each key tile across four blocks of the shuffled table.
TEST_P(CudaOps, PagedAttentionPrefillLongPrompt) {
  PagedScenarioOptions options{
      .sequences = {{2100, 2100}},
      .block_size = 16,
      .n_heads = 8,
      .n_kv_heads = 1,
      .head_dim = 128,
      .cache_dtype = DType::kBF16,
      .seed = 2100,
  };
  PagedScenario scenario(options);
  poison_table_tails(scenario);
  check_attention(*backend_, scenario, "long prompt, bf16", exact() ? 2e-5 : 2e-3, exact() ? 1e-4 : 1e-2);
}

// Recording (CUDA graphs): decode attention with key splits (scratch the recording must keep)
// and an add, recorded once, then replayed over scenarios of the same shapes whose contents
// (q, cache, positions, shuffled block tables) are written into the same buffers.
TEST_P(CudaOps, RecordedOpsReplayNewContents) {
  ASSERT_TRUE(backend_->can_record());
  PagedScenarioOptions options{
      .sequences = {{700, 1}, {90, 1}, {1, 1}},
      .block_size = 16,
      .n_heads = 8,
      .n_kv_heads = 2,
      .head_dim = 128,
      .cache_dtype = DType::kBF16,
      .seed = 5,
  };
  PagedScenario shapes(options);
  DeviceTensor q = upload(*backend_, shapes.q), k_cache = upload(*backend_, shapes.k_cache),
               v_cache = upload(*backend_, shapes.v_cache), query_start = upload(*backend_, shapes.query_start),
               positions = upload(*backend_, shapes.positions), tables = upload(*backend_, shapes.block_tables);
  DeviceTensor out = device_nan(*backend_, shapes.q.view.shape);
  AttentionBatch batch = shapes.batch();
  batch.query_start = query_start.view;
  batch.positions = positions.view;
  batch.block_tables = tables.view;
  backend_->begin_recording();
  backend_->paged_attention(q.view, KvCacheView{k_cache.view, v_cache.view}, batch, out.view);
  backend_->add(out.view, out.view, out.view);
  Result<std::unique_ptr<StepRecording>> recording = backend_->end_recording();
  ASSERT_TRUE(recording.ok()) << recording.error().to_string();
  for (uint32_t seed : {6u, 7u}) {
    options.seed = seed;
    PagedScenario scenario(options);
    backend_->copy_from_host(q.view, scenario.q.view.data);
    backend_->copy_from_host(k_cache.view, scenario.k_cache.view.data);
    backend_->copy_from_host(v_cache.view, scenario.v_cache.view.data);
    backend_->copy_from_host(positions.view, scenario.positions.view.data);
    backend_->copy_from_host(tables.view, scenario.block_tables.view.data);
    backend_->replay(**recording);
    std::vector<float> expected = scenario.expected;
    for (float& value : expected) value *= 2.0f;
    HostTensor actual = download(*backend_, out);
    expect_close(actual.f32(), expected.data(), 4e-5, 1e-4, scenario.q.numel(), str("replay, seed ", seed));
  }
}

// ---- sample: the device pick against pick_token (backend/sampling.h) --------------------------

struct SampleTally {
  int64_t cases = 0;
  int64_t mismatches = 0;  // all of them excused by pick_within_rounding, or the test fails
};

std::string describe(const TokenSampling& params) {
  return str("T=", params.temperature, " top_k=", params.top_k, " top_p=", params.top_p, " min_p=", params.min_p,
             " uniform=", params.uniform);
}

// Runs the op on logits f32 [n, vocab] with params [n] and compares every row with pick_token.
// Only a pick that the reference makes too with the draw, top_p or min_p nudged by 1e-6
// (relative) is excused; `exact` excuses nothing.
void check_sample(Backend& backend, const HostTensor& logits, const std::vector<TokenSampling>& params,
                  SampleTally& tally, bool exact, const std::string& what) {
  const int64_t n = static_cast<int64_t>(params.size()), vocab = logits.view.shape[1];
  HostTensor params_host = sampling_params_tensor(params);
  DeviceTensor logits_device = upload(backend, logits), params_device = upload(backend, params_host);
  DeviceTensor out = upload(backend, i32_tensor(std::vector<int32_t>(static_cast<size_t>(n), -1)));
  backend.sample(logits_device.view, params_device.view, out.view);
  HostTensor actual = download(backend, out);
  for (int64_t row = 0; row < n; ++row) {
    std::span<const float> row_logits(logits.view.as<const float>() + row * vocab, static_cast<size_t>(vocab));
    const TokenSampling& row_params = params[static_cast<size_t>(row)];
    const int32_t expected = pick_token(row_logits, row_params), picked = actual.i32()[row];
    ++tally.cases;
    if (picked == expected) continue;
    ++tally.mismatches;
    if (!exact && picked >= 0 && picked < vocab && pick_within_rounding(row_logits, row_params, picked)) continue;
    ADD_FAILURE() << what << " row " << row << " (" << describe(row_params) << "): expected " << expected << ", got "
                  << picked;
  }
}

// Sampling has no matrix products, so both CUDA precisions run the same kernel: one device.
using CudaSample = CudaDeviceTest;

// Random logits of every kind, vocab 259 / 32000 / 128256, 1..64 rows a launch, the whole
// parameter grid with random uniforms (and 0, 0.999999).
TEST_F(CudaSample, SampleMatchesPickToken) {
  const int64_t kRowCounts[] = {64, 1, 13, 37, 64, 2, 50};
  std::mt19937_64 rng(1234);
  SampleTally tally;
  for (auto [vocab, launches] : {std::pair<int64_t, int>{259, 40}, {32000, 10}, {128256, 5}}) {
    const std::vector<TokenSampling> grid = sampling_grid(vocab);
    int64_t next = 0;  // walks the grid across launches
    for (int launch = 0; launch < launches; ++launch) {
      const LogitsKind kind = kAllLogitsKinds[launch % 5];
      const int64_t n = kRowCounts[launch % 7];
      const uint32_t seed = static_cast<uint32_t>(vocab + launch);
      HostTensor logits = f32_tensor({n, vocab}, sampling_logits(n * vocab, kind, seed));
      std::vector<TokenSampling> params;
      for (int64_t row = 0; row < n; ++row, ++next) {
        TokenSampling row_params = grid[static_cast<size_t>(next % static_cast<int64_t>(grid.size()))];
        row_params.uniform = sampling_uniform(next, rng);
        params.push_back(row_params);
      }
      check_sample(*backend_, logits, params, tally, /*exact=*/false,
                   str("vocab ", vocab, " launch ", launch, " ", logits_kind_name(kind)));
    }
  }
  // Rounding at a boundary is rare: the draw must land within ~1e-9 of a running sum.
  EXPECT_LT(tally.mismatches * 1000, tally.cases) << tally.mismatches << " excused mismatches in " << tally.cases;
  EXPECT_GT(tally.cases, 1500);
}

// Inputs pick_token defines for the device to match exactly: non-finite logits and parameters
// outside their ranges.
TEST_F(CudaSample, SampleDegenerateInputs) {
  const int64_t vocab = 259;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<std::vector<float>> rows;
  std::vector<TokenSampling> params;
  auto add = [&](std::vector<float> logits, TokenSampling row_params) {
    rows.push_back(std::move(logits));
    params.push_back(row_params);
  };
  const std::vector<float> normal = sampling_logits(vocab, LogitsKind::kWide, 3);
  std::vector<float> one_inf = normal;
  one_inf[100] = inf;
  one_inf[200] = inf;
  std::vector<float> signed_zeros(static_cast<size_t>(vocab), -inf);
  signed_zeros[7] = -0.0f;
  signed_zeros[9] = 0.0f;
  signed_zeros[30] = -0.0f;
  const TokenSampling warm{.temperature = 1.0f, .uniform = 0.5};
  add(std::vector<float>(static_cast<size_t>(vocab), -inf), warm);
  add(std::vector<float>(static_cast<size_t>(vocab), nan), warm);
  add(one_inf, warm);
  add(signed_zeros, {.temperature = 1.0f, .uniform = 0.5});
  add(signed_zeros, {.temperature = 1.0f, .uniform = 0.9});
  add(signed_zeros, {.temperature = 1.0f, .top_k = 2, .uniform = 0.9});
  add(normal, {.temperature = 1e-39f, .uniform = 0.5});  // top / T overflows
  add(normal, {.temperature = inf, .uniform = 0.5});
  add(normal, {.temperature = nan, .uniform = 0.5});
  add(normal, {.temperature = -1.0f, .uniform = 0.5});
  add(normal, {.temperature = 1.0f, .top_k = -5, .uniform = 0.5});
  add(normal, {.temperature = 1.0f, .top_k = 1 << 30, .uniform = 0.5});
  add(normal, {.temperature = 1.0f, .top_k = static_cast<int32_t>(vocab), .uniform = 0.999999});
  add(normal, {.temperature = 1.0f, .top_k = static_cast<int32_t>(vocab - 1), .uniform = 0.999999});
  add(normal, {.temperature = 1.0f, .top_p = 0.0f, .uniform = 0.9});
  add(normal, {.temperature = 1.0f, .top_p = -1.0f, .uniform = 0.9});
  add(normal, {.temperature = 1.0f, .top_p = nan, .uniform = 0.9});
  add(normal, {.temperature = 1.0f, .top_p = 7.0f, .uniform = 0.9});
  add(normal, {.temperature = 1.0f, .min_p = 2.0f, .uniform = 0.9});
  add(normal, {.temperature = 1.0f, .min_p = nan, .uniform = 0.9});
  add(normal, {.temperature = 1.0f, .min_p = -1.0f, .uniform = 0.9});
  for (double uniform : {1.0, 1.5, 1e300, -0.5, static_cast<double>(nan), 0.0}) {
    add(normal, {.temperature = 1.0f, .uniform = uniform});
    add(normal, {.temperature = 0.5f, .top_k = 40, .top_p = 0.5f, .uniform = uniform});
  }
  std::vector<float> values;
  for (const std::vector<float>& row : rows) values.insert(values.end(), row.begin(), row.end());
  HostTensor logits = f32_tensor({static_cast<int64_t>(rows.size()), vocab}, values);
  SampleTally tally;
  check_sample(*backend_, logits, params, tally, /*exact=*/true, "degenerate");
}

// Recording (CUDA graphs): the op recorded once on fixed buffers, replayed over new logits and
// new params (temperatures, cuts and uniforms all change) written into the same buffers.
TEST_F(CudaSample, RecordedSampleReplaysNewContents) {
  ASSERT_TRUE(backend_->can_record());
  const int64_t n = 24, vocab = 32000;
  const std::vector<TokenSampling> grid = sampling_grid(vocab);
  std::mt19937_64 rng(77);
  auto make_params = [&](int64_t offset) {
    std::vector<TokenSampling> params;
    for (int64_t row = 0; row < n; ++row) {
      TokenSampling row_params = grid[static_cast<size_t>((offset + row * 7) % static_cast<int64_t>(grid.size()))];
      row_params.uniform = sampling_uniform(offset + row, rng);
      params.push_back(row_params);
    }
    return params;
  };
  HostTensor first_logits = f32_tensor({n, vocab}, sampling_logits(n * vocab, LogitsKind::kWide, 1));
  DeviceTensor logits = upload(*backend_, first_logits);
  DeviceTensor params = upload(*backend_, sampling_params_tensor(make_params(0)));
  DeviceTensor out = upload(*backend_, i32_tensor(std::vector<int32_t>(static_cast<size_t>(n), -1)));
  backend_->begin_recording();
  backend_->sample(logits.view, params.view, out.view);
  Result<std::unique_ptr<StepRecording>> recording = backend_->end_recording();
  ASSERT_TRUE(recording.ok()) << recording.error().to_string();
  SampleTally tally;
  for (int replay = 1; replay <= 4; ++replay) {
    const LogitsKind kind = kAllLogitsKinds[replay % 5];
    const uint32_t seed = static_cast<uint32_t>(replay + 10);
    HostTensor new_logits = f32_tensor({n, vocab}, sampling_logits(n * vocab, kind, seed));
    const std::vector<TokenSampling> new_params = make_params(replay * 31);
    HostTensor new_params_host = sampling_params_tensor(new_params);
    backend_->copy_from_host(logits.view, new_logits.view.data);
    backend_->copy_from_host(params.view, new_params_host.view.data);
    backend_->replay(**recording);
    HostTensor actual = download(*backend_, out);
    for (int64_t row = 0; row < n; ++row) {
      std::span<const float> row_logits(new_logits.f32() + row * vocab, static_cast<size_t>(vocab));
      const TokenSampling& row_params = new_params[static_cast<size_t>(row)];
      const int32_t expected = pick_token(row_logits, row_params), picked = actual.i32()[row];
      ++tally.cases;
      if (picked == expected) continue;
      ++tally.mismatches;
      EXPECT_TRUE(picked >= 0 && picked < vocab && pick_within_rounding(row_logits, row_params, picked))
          << "replay " << replay << " row " << row << " (" << describe(row_params) << "): expected " << expected
          << ", got " << picked;
    }
  }
  EXPECT_LE(tally.mismatches, 1) << tally.mismatches << " excused mismatches in " << tally.cases;
}

// Synthetic weights made on the GPU are the CPU backend's bits (tests/backend/synthetic_fill_test.cpp
// checks those against the splitmix64 stream): whole tensors, blocks of one, a norm, a tensor large
// enough for the kernel's grid-stride loop, and pinned host memory (the token embedding's home).
using CudaSynthetic = CudaDeviceTest;

TEST_F(CudaSynthetic, FillMatchesTheCpuBits) {
  std::unique_ptr<Backend> cpu = create_backend(BackendOptions{.device = "cpu", .n_threads = 8}).value();
  struct Case {
    Shape shape;
    SyntheticFill fill;
  };
  const Case cases[] = {
      {Shape{4097}, SyntheticFill{.state = 5, .scale = 1.0f, .columns = 4097}},
      {Shape{33, 130}, SyntheticFill{.state = 77, .scale = 0.01f, .row0 = 5, .col0 = 7, .columns = 200}},
      {Shape{4100, 4096}, SyntheticFill{.state = 1u << 31, .scale = 0.0156f, .row0 = 1, .columns = 4096}},
      {Shape{64}, SyntheticFill{.state = 3, .ones = true, .columns = 64}},
  };
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(str(dtype_name(dtype), " ", c.shape));
      HostTensor expected(dtype, c.shape);
      cpu->fill_synthetic(expected.view, c.fill);
      HostTensor garbage(dtype, c.shape);
      std::memset(garbage.bytes.data(), 0xff, garbage.bytes.size());
      DeviceTensor out = upload(*backend_, garbage);
      backend_->fill_synthetic(out.view, c.fill);
      HostTensor actual = download(*backend_, out);
      ASSERT_EQ(std::memcmp(actual.bytes.data(), expected.bytes.data(), expected.bytes.size()), 0);
      Result<Buffer> mapped = backend_->allocate_host_mapped(static_cast<int64_t>(expected.bytes.size()));
      ASSERT_TRUE(mapped.ok()) << mapped.error().to_string();
      backend_->fill_synthetic(mapped->view(dtype, c.shape), c.fill);
      backend_->synchronize();
      ASSERT_EQ(std::memcmp(mapped->data(), expected.bytes.data(), expected.bytes.size()), 0) << "host-mapped";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, CudaOps, testing::Values("cuda", "cuda-fp32"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param == "cuda" ? std::string("cuda") : std::string("cuda_fp32");
                         });

}  // namespace
}  // namespace llm::test
