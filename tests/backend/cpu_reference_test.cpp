// The reference kernels against independent math: hand-computed values, closed forms, and
// straightforward dense computations done here in the test (never by the code under test).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/reference_ops.h"
#include "cpu_test_util.h"
#include "paged_attention_scenario.h"

namespace llm::test {
namespace {

TEST(CpuReference, RmsNormHandComputed) {
  // Row 0: mean(x^2) = (1 + 4 + 9 + 16) / 4 = 7.5, rsqrt = 0.36514837.
  // Row 1: mean(x^2) = 8 / 4 = 2, rsqrt = 0.70710678.
  HostTensor x = f32_tensor({2, 4}, {1, 2, 3, 4, -2, 0, 0, 2});
  HostTensor weight = f32_tensor({4}, {1, 1, 2, 0.5});
  HostTensor out(DType::kF32, {2, 4});
  reference_rms_norm(x.view, weight.view, 0.0f, out.view);
  std::vector<float> expected = {0.36514837f, 0.73029674f, 2.19089023f, 0.73029674f,
                                 -1.41421356f, 0.0f, 0.0f, 0.70710678f};
  expect_close(out.f32(), expected.data(), 1e-7, 1e-6, 8, "rms_norm");

  // eps matters: all-zero row with eps = 1 stays zero; row [3, 3] with eps 1: rsqrt(9 + 1).
  HostTensor y = f32_tensor({1, 2}, {3, 3});
  HostTensor w2 = f32_tensor({2}, {1, 1});
  reference_rms_norm(y.view, w2.view, 1.0f, y.view);  // in place
  EXPECT_NEAR(y.f32()[0], 3.0 / std::sqrt(10.0), 1e-6);
}

TEST(CpuReference, RmsNormHalfWeights) {
  HostTensor x = f32_tensor({1, 4}, {1, 2, 3, 4});
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    HostTensor weight(dtype, {4});
    for (int j = 0; j < 4; ++j) {
      weight.as<uint16_t>()[j] = dtype == DType::kF16 ? float_to_f16(0.5f * (j + 1)) : float_to_bf16(0.5f * (j + 1));
    }
    HostTensor out(DType::kF32, {1, 4});
    reference_rms_norm(x.view, weight.view, 0.0f, out.view);
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(out.f32()[j], (j + 1) * 0.36514837 * 0.5 * (j + 1), 1e-6);
  }
}

TEST(CpuReference, LinearMatchesNaiveTripleLoop) {
  int64_t n = 3, k = 33, m = 7;
  HostTensor x = f32_tensor({n, k}, random_floats(n * k, 11));
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    HostTensor weight = random_tensor(dtype, {m, k}, 12);
    auto weight_at = [&](int64_t j, int64_t c) -> double {
      if (dtype == DType::kF16) return f16_to_float(weight.as<uint16_t>()[j * k + c]);
      if (dtype == DType::kBF16) return bf16_to_float(weight.as<uint16_t>()[j * k + c]);
      return weight.f32()[j * k + c];
    };
    HostTensor out(DType::kF32, {n, m});
    reference_linear(x.view, weight.view, out.view);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        double sum = 0.0;
        for (int64_t c = 0; c < k; ++c) sum += x.f32()[i * k + c] * weight_at(j, c);
        EXPECT_NEAR(out.f32()[i * m + j], sum, 1e-6 * (1 + std::fabs(sum))) << dtype_name(dtype) << " " << i << "," << j;
      }
    }
  }
}

TEST(CpuReference, LinearQ8_0HandBuiltBlocks) {
  // Two weight rows of one Q8_0 block each: w[j][c] = d_j * q[j][c], d0 = 0.5, d1 = -0.25.
  int64_t k = 32;
  HostTensor weight(DType::kQ8_0, {2, k});
  const float scales[2] = {0.5f, -0.25f};
  std::vector<double> dense(2 * k);
  for (int j = 0; j < 2; ++j) {
    std::byte* block = weight.bytes.data() + j * 34;
    uint16_t d = float_to_f16(scales[j]);
    std::memcpy(block, &d, 2);
    for (int c = 0; c < k; ++c) {
      int8_t q = static_cast<int8_t>((c * 7 + j * 3) % 255 - 127);
      std::memcpy(block + 2 + c, &q, 1);
      dense[j * k + c] = static_cast<double>(scales[j]) * q;
    }
  }
  HostTensor x = f32_tensor({1, k}, random_floats(k, 5));
  HostTensor out(DType::kF32, {1, 2});
  reference_linear(x.view, weight.view, out.view);
  for (int j = 0; j < 2; ++j) {
    double sum = 0.0;
    for (int c = 0; c < k; ++c) sum += x.f32()[c] * dense[j * k + c];
    EXPECT_NEAR(out.f32()[j], sum, 1e-5 * (1 + std::fabs(sum)));
  }
}

TEST(CpuReference, EmbeddingConvertsRows) {
  HostTensor table = random_tensor(DType::kBF16, {5, 6}, 3);
  HostTensor ids = i32_tensor({4, 0, 4});
  HostTensor out(DType::kF32, {3, 6});
  reference_embedding(table.view, ids.view, out.view, 0);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 6; ++j) {
      EXPECT_EQ(out.f32()[i * 6 + j], bf16_to_float(table.as<uint16_t>()[ids.i32()[i] * 6 + j]));
    }
  }
}

// A vocab-parallel rank holding rows [3, 8) of the whole table: its own ids read row id - 3,
// others give zeros (the ranks' outputs are summed).
TEST(CpuReference, EmbeddingOfAVocabShard) {
  HostTensor table = random_tensor(DType::kF32, {5, 4}, 9);
  HostTensor ids = i32_tensor({2, 3, 7, 8});
  HostTensor out(DType::kF32, {4, 4});
  reference_embedding(table.view, ids.view, out.view, 3);
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(out.f32()[0 * 4 + j], 0.0f);
    EXPECT_EQ(out.f32()[1 * 4 + j], table.f32()[0 * 4 + j]);
    EXPECT_EQ(out.f32()[2 * 4 + j], table.f32()[4 * 4 + j]);
    EXPECT_EQ(out.f32()[3 * 4 + j], 0.0f);
  }
}

// RoPE is a rotation of each pair (a, b) as the complex number a + ib by e^{i theta}.
TEST(CpuReference, RopeIsTheClosedFormRotation) {
  int64_t n_heads = 2, head_dim = 8, half = head_dim / 2;
  std::vector<int32_t> position_values = {0, 1, 7, 19};
  int64_t n = static_cast<int64_t>(position_values.size());
  std::vector<float> frequencies(half);
  for (int64_t j = 0; j < half; ++j) frequencies[j] = static_cast<float>(std::pow(10000.0, -2.0 * j / head_dim));
  HostTensor inv_freq = f32_tensor({half}, frequencies);
  HostTensor positions = i32_tensor(position_values);
  std::vector<float> original = random_floats(n * n_heads * head_dim, 9);
  for (RopeLayout layout : {RopeLayout::kInterleaved, RopeLayout::kHalfSplit}) {
    HostTensor x = f32_tensor({n, n_heads, head_dim}, original);
    reference_rope(x.view, positions.view, inv_freq.view, layout);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t h = 0; h < n_heads; ++h) {
        for (int64_t j = 0; j < half; ++j) {
          int64_t a = layout == RopeLayout::kInterleaved ? 2 * j : j;
          int64_t b = layout == RopeLayout::kInterleaved ? 2 * j + 1 : j + half;
          int64_t base = (i * n_heads + h) * head_dim;
          double theta = position_values[i] * static_cast<double>(frequencies[j]);
          double re = original[base + a] * std::cos(theta) - original[base + b] * std::sin(theta);
          double im = original[base + a] * std::sin(theta) + original[base + b] * std::cos(theta);
          EXPECT_NEAR(x.f32()[base + a], re, 1e-5);
          EXPECT_NEAR(x.f32()[base + b], im, 1e-5);
        }
      }
    }
  }
}

// Half-split is interleaved under the permutation interleaved index 2j -> j, 2j+1 -> j + half:
// permuting then rotating with kHalfSplit equals rotating with kInterleaved then permuting.
TEST(CpuReference, RopeLayoutsAreOneRotationUnderPermutation) {
  int64_t n = 3, n_heads = 2, head_dim = 16, half = head_dim / 2;
  HostTensor inv_freq = f32_tensor({half}, random_floats(half, 4, 0.0f, 1.0f));
  HostTensor positions = i32_tensor({0, 5, 4096});
  std::vector<float> original = random_floats(n * n_heads * head_dim, 6);
  std::vector<float> permuted(original.size());
  for (int64_t row = 0; row < n * n_heads; ++row) {
    for (int64_t j = 0; j < half; ++j) {
      permuted[row * head_dim + j] = original[row * head_dim + 2 * j];
      permuted[row * head_dim + j + half] = original[row * head_dim + 2 * j + 1];
    }
  }
  HostTensor interleaved = f32_tensor({n, n_heads, head_dim}, original);
  HostTensor half_split = f32_tensor({n, n_heads, head_dim}, permuted);
  reference_rope(interleaved.view, positions.view, inv_freq.view, RopeLayout::kInterleaved);
  reference_rope(half_split.view, positions.view, inv_freq.view, RopeLayout::kHalfSplit);
  for (int64_t row = 0; row < n * n_heads; ++row) {
    for (int64_t j = 0; j < half; ++j) {
      EXPECT_EQ(half_split.f32()[row * head_dim + j], interleaved.f32()[row * head_dim + 2 * j]);
      EXPECT_EQ(half_split.f32()[row * head_dim + j + half], interleaved.f32()[row * head_dim + 2 * j + 1]);
    }
  }
}

TEST(CpuReference, SiluMulAddGather) {
  HostTensor gate = f32_tensor({1, 3}, {0.0f, 1.0f, -2.0f});
  HostTensor up = f32_tensor({1, 3}, {5.0f, 2.0f, 3.0f});
  HostTensor out(DType::kF32, {1, 3});
  reference_silu_mul(gate.view, up.view, out.view);
  EXPECT_FLOAT_EQ(out.f32()[0], 0.0f);
  EXPECT_FLOAT_EQ(out.f32()[1], static_cast<float>(2.0 / (1.0 + std::exp(-1.0))));
  EXPECT_FLOAT_EQ(out.f32()[2], static_cast<float>(3.0 * -2.0 / (1.0 + std::exp(2.0))));

  reference_add(gate.view, up.view, gate.view);  // in place
  EXPECT_EQ(gate.f32()[2], 1.0f);

  HostTensor x = f32_tensor({3, 2}, {0, 1, 10, 11, 20, 21});
  HostTensor rows = i32_tensor({2, 2, 0});
  HostTensor gathered(DType::kF32, {3, 2});
  reference_gather_rows(x.view, rows.view, gathered.view);
  std::vector<float> expected = {20, 21, 20, 21, 0, 1};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(gathered.f32()[i], expected[i]);
}

// Paged attention equals dense causal attention over contiguous K/V, for mixed batches:
// single tokens, full prefill from 0, chunked prefill (first query at position > 0), decode.
TEST(CpuReference, PagedAttentionMatchesDenseAttention) {
  std::vector<SequenceSpec> mixed = {{1, 1}, {17, 17}, {40, 5}, {70, 1}, {9, 3}};
  for (int block_size : {1, 3, 4, 16}) {
    for (auto [n_heads, n_kv_heads] : {std::pair{4, 4}, std::pair{4, 2}, std::pair{8, 1}}) {
      for (DType dtype : {DType::kF32, DType::kBF16}) {
        PagedScenario scenario({.sequences = mixed, .block_size = block_size, .n_heads = n_heads,
                                .n_kv_heads = n_kv_heads, .head_dim = 16, .cache_dtype = dtype, .seed = 77});
        HostTensor out(DType::kF32, scenario.q.view.shape);
        reference_paged_attention(scenario.q.view, scenario.cache(), scenario.batch(), out.view);
        expect_close(out.f32(), scenario.expected.data(), 1e-6, 1e-5, out.numel(),
                     str("block_size ", block_size, " heads ", n_heads, "/", n_kv_heads, " ", dtype_name(dtype)));
      }
    }
  }
}

// kv_write puts each row in its slot (exact for f32, the RNE-rounded value for f16/bf16).
TEST(CpuReference, KvWriteFillsSlots) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    PagedScenario scenario({.sequences = {{5, 1}, {11, 1}}, .block_size = 4, .n_heads = 2, .n_kv_heads = 2,
                            .head_dim = 8, .cache_dtype = dtype, .seed = 3});
    int64_t rows = scenario.slots.numel(), row_elements = 2 * 8;
    // Unrounded K/V, so the conversion on write is what is tested.
    std::vector<float> k_values = random_floats(rows * row_elements, 21), v_values = random_floats(rows * row_elements, 22);
    HostTensor k = f32_tensor({rows, 2, 8}, k_values), v = f32_tensor({rows, 2, 8}, v_values);
    HostTensor k_cache(dtype, scenario.k_cache.view.shape), v_cache(dtype, scenario.v_cache.view.shape);
    reference_kv_write(k.view, v.view, KvCacheView{k_cache.view, v_cache.view}, scenario.slots.view);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t e = 0; e < row_elements; ++e) {
        int64_t index = scenario.slots.i32()[r] * row_elements + e;
        float expected_k = round_to(dtype, k_values[r * row_elements + e]);
        float stored_k = dtype == DType::kF32   ? k_cache.f32()[index]
                         : dtype == DType::kF16 ? f16_to_float(k_cache.as<uint16_t>()[index])
                                                : bf16_to_float(k_cache.as<uint16_t>()[index]);
        ASSERT_EQ(stored_k, expected_k) << dtype_name(dtype) << " row " << r << " element " << e;
      }
    }
  }
}

TEST(CpuReference, BackendRoutesToReference) {
  CpuBackend backend({.n_threads = 1, .reference = true});
  EXPECT_EQ(backend.name(), "cpu-reference");
  auto buffer = backend.allocate(100);
  ASSERT_TRUE(buffer.ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer->data()) % 64, 0u);
  HostTensor x = f32_tensor({2, 4}, {1, 2, 3, 4, -2, 0, 0, 2});
  HostTensor weight = f32_tensor({4}, {1, 1, 2, 0.5});
  TensorView device_x = buffer->view(DType::kF32, {2, 4});
  backend.copy_from_host(device_x, x.f32());
  backend.rms_norm(device_x, weight.view, 0.0f, device_x);
  float result[8];
  backend.copy_to_host(result, device_x);
  EXPECT_NEAR(result[2], 2.19089023, 1e-6);
}

TEST(CpuBackendMemory, HugeAllocationIsAnError) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer aborts on impossible allocations instead of returning null";
#endif
  CpuBackend backend({.n_threads = 1});
  auto buffer = backend.allocate(int64_t{1} << 62);
  ASSERT_FALSE(buffer.ok());
  EXPECT_EQ(buffer.error().code, ErrorCode::kOutOfMemory);
}

}  // namespace
}  // namespace llm::test
