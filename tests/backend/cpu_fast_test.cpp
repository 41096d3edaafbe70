// Every fast kernel against its reference on odd shapes, every dtype, 1/2/3 threads, and both
// the portable and (where the CPU has it) the AVX2 SIMD table. Outputs start as NaN so an
// element a kernel forgets to write fails the comparison.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/fast_ops.h"
#include "backend/cpu/reference_ops.h"
#include "cpu_test_util.h"
#include "paged_attention_scenario.h"

namespace llm::test {
namespace {

struct FastConfig {
  std::unique_ptr<ThreadPool> pool;
  const SimdKernels* simd;
  CpuKernelContext context() const { return {*pool, *simd}; }
  std::string label() const { return str(pool->n_threads(), " threads, ", simd->name); }
};

std::vector<FastConfig> fast_configs() {
  std::vector<FastConfig> configs;
  std::vector<const SimdKernels*> tables = {&portable_simd_kernels()};
  if (avx2_simd_kernels() != nullptr) tables.push_back(avx2_simd_kernels());
  for (const SimdKernels* table : tables) {
    for (int threads : {1, 2, 3}) configs.push_back({std::make_unique<ThreadPool>(threads), table});
  }
  return configs;
}

HostTensor nan_f32(Shape shape) {
  HostTensor t(DType::kF32, shape);
  std::fill(t.f32(), t.f32() + t.numel(), std::numeric_limits<float>::quiet_NaN());
  return t;
}

// Linear tolerance: 1e-5 relative to sum_c |x[i, c] * w[j, c]| (the scale of the rounding error
// of any summation order), with w the dequantized weight.
std::vector<double> linear_tolerance(const HostTensor& x, const HostTensor& weight, double relative) {
  int64_t n = x.view.shape[0], k = x.view.shape[1], m = weight.view.shape[0];
  std::vector<double> tolerance(static_cast<size_t>(n * m));
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t j = 0; j < m; ++j) {
    dequantize_row(weight.view.dtype, weight.bytes.data() + j * dtype_row_bytes(weight.view.dtype, k), row.data(), k);
    for (int64_t i = 0; i < n; ++i) {
      double magnitude = 0.0;
      for (int64_t c = 0; c < k; ++c) magnitude += std::fabs(static_cast<double>(x.view.as<const float>()[i * k + c]) * row[c]);
      tolerance[i * m + j] = relative * magnitude + 1e-30;
    }
  }
  return tolerance;
}

void check_linear(DType dtype, int64_t n, int64_t k, int64_t m, const std::vector<FastConfig>& configs) {
  uint32_t seed = static_cast<uint32_t>(n * 1000003 + k * 101 + m);
  HostTensor x = f32_tensor({n, k}, random_floats(n * k, seed));
  HostTensor weight = random_tensor(dtype, {m, k}, seed + 1);
  HostTensor expected(DType::kF32, {n, m});
  reference_linear(x.view, weight.view, expected.view);
  std::vector<double> tolerance = linear_tolerance(x, weight, 1e-5);
  for (const FastConfig& config : configs) {
    HostTensor out = nan_f32({n, m});
    fast_linear(config.context(), x.view, weight.view, out.view);
    expect_close(out.f32(), expected.f32(), tolerance, n * m,
                 str("linear ", dtype_name(dtype), " n ", n, " k ", k, " m ", m, " (", config.label(), ")"));
  }
}

TEST(CpuFast, LinearDense) {
  auto configs = fast_configs();
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int64_t n : {1, 3, 17, 64}) {
      for (auto [k, m] : {std::pair<int64_t, int64_t>{7, 33}, {33, 7}, {257, 1000}, {1000, 257}}) {
        check_linear(dtype, n, k, m, configs);
      }
    }
  }
}

TEST(CpuFast, LinearQuantized) {
  auto configs = fast_configs();
  for (DType dtype : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K}) {
    std::vector<std::pair<int64_t, int64_t>> shapes = {{256, 33}, {768, 7}};  // 768: slices of 512 + 256
    if (dtype_info(dtype).block_size == 32) shapes.push_back({224, 50});
    for (int64_t n : {1, 3, 17, 64}) {
      for (auto [k, m] : shapes) check_linear(dtype, n, k, m, configs);
    }
  }
}

// Batch invariance: a row's linear output is bit-identical whether it is computed alone or with
// any number of other rows (the decode and tiled paths, edge and tile rows alike), so greedy
// output of a request never depends on what else the scheduler batched with it.
TEST(CpuFast, LinearIsBatchInvariant) {
  auto configs = fast_configs();
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_K}) {
    int64_t k = dtype == DType::kQ4_K ? 1280 : 1061 - (dtype == DType::kQ8_0 ? 1061 % 32 : 0), m = 37;
    HostTensor weight = random_tensor(dtype, {m, k}, 11);
    HostTensor x = random_tensor(DType::kF32, {70, k}, 12);
    for (const FastConfig& config : configs) {
      std::vector<std::vector<float>> alone(70);
      for (int64_t i = 0; i < 70; ++i) {
        HostTensor out = nan_f32({1, m});
        fast_linear(config.context(), x.view.rows(i, i + 1), weight.view, out.view);
        alone[static_cast<size_t>(i)].assign(out.f32(), out.f32() + m);
      }
      for (int64_t n : {2, 3, 4, 5, 17, 70}) {
        HostTensor out = nan_f32({n, m});
        fast_linear(config.context(), x.view.rows(0, n), weight.view, out.view);
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t j = 0; j < m; ++j) {
            ASSERT_EQ(out.f32()[i * m + j], alone[static_cast<size_t>(i)][static_cast<size_t>(j)])
                << dtype_name(dtype) << " n " << n << " row " << i << " col " << j << " " << config.label();
          }
        }
      }
    }
  }
}

TEST(CpuFast, Embedding) {
  auto configs = fast_configs();
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K}) {
    int64_t block = dtype_info(dtype).block_size, vocab = 259;
    int64_t dim = block == 256 ? 512 : block == 32 ? 96 : 80;
    HostTensor table = random_tensor(dtype, {vocab, dim}, 5);
    HostTensor ids = i32_tensor({0, 258, 17, 17, 100, 3, 258});
    HostTensor expected(DType::kF32, {7, dim});
    for (int64_t first_row : {0, 17}) {  // 17: a vocab-parallel rank whose rows start at id 17
      reference_embedding(table.view, ids.view, expected.view, first_row);
      for (const FastConfig& config : configs) {
        HostTensor out = nan_f32({7, dim});
        fast_embedding(config.context(), table.view, ids.view, out.view, first_row);
        expect_close(out.f32(), expected.f32(), 0.0, 0.0, out.numel(),
                     str("embedding ", dtype_name(dtype), " first_row ", first_row, " ", config.label()));
      }
    }
  }
}

TEST(CpuFast, RmsNorm) {
  auto configs = fast_configs();
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int64_t n : {1, 3, 17}) {
      for (int64_t dim : {7, 80, 1000}) {
        HostTensor x = f32_tensor({n, dim}, random_floats(n * dim, 8, -3.0f, 3.0f));
        HostTensor weight = random_tensor(dtype, {dim}, 9);
        HostTensor expected(DType::kF32, {n, dim});
        reference_rms_norm(x.view, weight.view, 1e-5f, expected.view);
        for (const FastConfig& config : configs) {
          HostTensor out = nan_f32({n, dim});
          fast_rms_norm(config.context(), x.view, weight.view, 1e-5f, out.view);
          expect_close(out.f32(), expected.f32(), 1e-6, 1e-5, out.numel(),
                       str("rms_norm ", dtype_name(dtype), " [", n, ", ", dim, "] ", config.label()));
          // In place (out aliases x) gives the same answer.
          HostTensor in_place = f32_tensor({n, dim}, std::vector<float>(x.f32(), x.f32() + x.numel()));
          fast_rms_norm(config.context(), in_place.view, weight.view, 1e-5f, in_place.view);
          expect_close(in_place.f32(), out.f32(), 0.0, 0.0, out.numel(), "rms_norm in place");
        }
      }
    }
  }
}

TEST(CpuFast, Rope) {
  auto configs = fast_configs();
  for (RopeLayout layout : {RopeLayout::kInterleaved, RopeLayout::kHalfSplit}) {
    for (int64_t head_dim : {16, 64, 80, 128}) {
      int64_t n = 17, n_heads = 3, half = head_dim / 2;
      std::vector<float> frequencies(static_cast<size_t>(half));
      for (int64_t j = 0; j < half; ++j) frequencies[j] = static_cast<float>(std::pow(500000.0, -2.0 * j / head_dim));
      HostTensor inv_freq = f32_tensor({half}, frequencies);
      std::vector<int32_t> position_values;
      for (int64_t i = 0; i < n; ++i) position_values.push_back(static_cast<int32_t>((i * 7919) % 9000));
      HostTensor positions = i32_tensor(position_values);
      std::vector<float> original = random_floats(n * n_heads * head_dim, 13);
      HostTensor expected = f32_tensor({n, n_heads, head_dim}, original);
      reference_rope(expected.view, positions.view, inv_freq.view, layout);
      for (const FastConfig& config : configs) {
        HostTensor x = f32_tensor({n, n_heads, head_dim}, original);
        fast_rope(config.context(), x.view, positions.view, inv_freq.view, layout);
        expect_close(x.f32(), expected.f32(), 1e-6, 1e-6, x.numel(), str("rope head_dim ", head_dim, " ", config.label()));
      }
    }
  }
}

TEST(CpuFast, KvWriteIsExact) {
  auto configs = fast_configs();
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    PagedScenario scenario({.sequences = {{9, 1}, {23, 1}}, .block_size = 4, .n_heads = 6, .n_kv_heads = 3,
                            .head_dim = 80, .cache_dtype = dtype, .seed = 4});
    int64_t rows = scenario.slots.numel();
    HostTensor k = f32_tensor({rows, 3, 80}, random_floats(rows * 240, 1));
    HostTensor v = f32_tensor({rows, 3, 80}, random_floats(rows * 240, 2));
    HostTensor expected_k(dtype, scenario.k_cache.view.shape), expected_v(dtype, scenario.v_cache.view.shape);
    reference_kv_write(k.view, v.view, {expected_k.view, expected_v.view}, scenario.slots.view);
    for (const FastConfig& config : configs) {
      HostTensor k_cache(dtype, scenario.k_cache.view.shape), v_cache(dtype, scenario.v_cache.view.shape);
      fast_kv_write(config.context(), k.view, v.view, {k_cache.view, v_cache.view}, scenario.slots.view);
      EXPECT_EQ(k_cache.bytes, expected_k.bytes) << dtype_name(dtype) << " " << config.label();
      EXPECT_EQ(v_cache.bytes, expected_v.bytes) << dtype_name(dtype) << " " << config.label();
    }
  }
}

TEST(CpuFast, PagedAttention) {
  auto configs = fast_configs();
  std::vector<SequenceSpec> mixed = {{1, 1}, {17, 17}, {40, 5}, {70, 1}};
  for (int64_t head_dim : {16, 64, 80, 128}) {
    for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (auto [n_heads, n_kv_heads] : {std::pair{4, 4}, std::pair{8, 2}, std::pair{6, 1}}) {
        for (int block_size : {1, 5, 16}) {
          PagedScenario scenario({.sequences = mixed, .block_size = block_size, .n_heads = n_heads,
                                  .n_kv_heads = n_kv_heads, .head_dim = static_cast<int>(head_dim),
                                  .cache_dtype = dtype, .seed = static_cast<uint32_t>(head_dim + block_size)});
          HostTensor expected = nan_f32(scenario.q.view.shape);
          reference_paged_attention(scenario.q.view, scenario.cache(), scenario.batch(), expected.view);
          std::string what = str("attention head_dim ", head_dim, " ", dtype_name(dtype), " heads ", n_heads, "/",
                                 n_kv_heads, " block_size ", block_size);
          expect_close(expected.f32(), scenario.expected.data(), 1e-6, 1e-5, expected.numel(), what + " reference");
          for (const FastConfig& config : configs) {
            HostTensor out = nan_f32(scenario.q.view.shape);
            fast_paged_attention(config.context(), scenario.q.view, scenario.cache(), scenario.batch(), out.view);
            expect_close(out.f32(), expected.f32(), 1e-5, 1e-5, out.numel(), what + " " + config.label());
          }
        }
      }
    }
  }
}

// Every cache element outside the given blocks and past each sequence's end is NaN (see
// PagedScenario); one read of any of them would make an output NaN.
TEST(CpuFast, PagedAttentionReadsOnlyItsBlocks) {
  auto configs = fast_configs();
  PagedScenario scenario({.sequences = {{3, 3}, {33, 2}, {8, 1}}, .block_size = 8, .n_heads = 4, .n_kv_heads = 2,
                          .head_dim = 64, .cache_dtype = DType::kBF16, .seed = 99});
  for (const FastConfig& config : configs) {
    HostTensor out = nan_f32(scenario.q.view.shape);
    fast_paged_attention(config.context(), scenario.q.view, scenario.cache(), scenario.batch(), out.view);
    for (int64_t i = 0; i < out.numel(); ++i) ASSERT_TRUE(std::isfinite(out.f32()[i])) << "element " << i;
  }
  HostTensor out = nan_f32(scenario.q.view.shape);
  reference_paged_attention(scenario.q.view, scenario.cache(), scenario.batch(), out.view);
  for (int64_t i = 0; i < out.numel(); ++i) ASSERT_TRUE(std::isfinite(out.f32()[i])) << "reference element " << i;
}

TEST(CpuFast, SiluMulAddGather) {
  auto configs = fast_configs();
  int64_t n = 17, f = 1000;
  HostTensor gate = f32_tensor({n, f}, random_floats(n * f, 1, -8.0f, 8.0f));
  HostTensor up = f32_tensor({n, f}, random_floats(n * f, 2));
  HostTensor expected_silu(DType::kF32, {n, f}), expected_sum(DType::kF32, {n, f});
  reference_silu_mul(gate.view, up.view, expected_silu.view);
  reference_add(gate.view, up.view, expected_sum.view);
  HostTensor rows = i32_tensor({16, 0, 5, 5});
  HostTensor expected_rows(DType::kF32, {4, f});
  reference_gather_rows(gate.view, rows.view, expected_rows.view);
  for (const FastConfig& config : configs) {
    HostTensor out = nan_f32({n, f});
    fast_silu_mul(config.context(), gate.view, up.view, out.view);
    expect_close(out.f32(), expected_silu.f32(), 1e-7, 1e-6, out.numel(), "silu_mul " + config.label());
    fast_add(config.context(), gate.view, up.view, out.view);
    expect_close(out.f32(), expected_sum.f32(), 0.0, 0.0, out.numel(), "add " + config.label());
    HostTensor gathered = nan_f32({4, f});
    fast_gather_rows(config.context(), gate.view, rows.view, gathered.view);
    expect_close(gathered.f32(), expected_rows.f32(), 0.0, 0.0, gathered.numel(), "gather_rows " + config.label());
  }
}

// The public Backend entry points (shape checks, then the fast kernels) agree with reference mode.
TEST(CpuFast, BackendFastMatchesReferenceBackend) {
  CpuBackend fast({.n_threads = 3});
  CpuBackend reference({.n_threads = 1, .reference = true});
  EXPECT_NE(fast.name().find("3 threads"), std::string::npos) << fast.name();
  HostTensor x = f32_tensor({5, 96}, random_floats(5 * 96, 3));
  HostTensor weight = random_tensor(DType::kBF16, {40, 96}, 4);
  HostTensor out_fast(DType::kF32, {5, 40}), out_reference(DType::kF32, {5, 40});
  fast.linear(x.view, weight.view, out_fast.view);
  reference.linear(x.view, weight.view, out_reference.view);
  expect_close(out_fast.f32(), out_reference.f32(), linear_tolerance(x, weight, 1e-5), 200, "backend linear");
}

}  // namespace
}  // namespace llm::test
