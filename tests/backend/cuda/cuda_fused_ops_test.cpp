// The CUDA backend's fused kernels against the CPU reference ops they fuse, run one after the
// other: add + rms_norm, rope(q) + rope(k) + kv_write, and the layer's q/k/v and feed-forward
// products. Outputs start as NaN. Needs a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backend/cpu/reference_ops.h"
#include "backend/cuda/cuda_test_util.h"
#include "core/half.h"
#include "quant/dequantize.h"

namespace llm::test {
namespace {

// Element i of a dense f32/f16/bf16 tensor as a float.
float element_as_float(HostTensor& t, int64_t i) {
  switch (t.view.dtype) {
    case DType::kF16: return f16_to_float(t.as<uint16_t>()[i]);
    case DType::kBF16: return bf16_to_float(t.as<uint16_t>()[i]);
    case DType::kF32:
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: break;
  }
  return t.f32()[i];
}

using CudaFusedOps = CudaDeviceTest;

TEST_F(CudaFusedOps, AddRmsNormIsAddThenNorm) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int64_t dim : {1, 37, 300, 4096, 8196}) {
      for (bool out_is_residual : {false, true}) {
        SCOPED_TRACE(str(dtype_name(dtype), " dim=", dim, out_is_residual ? " out = residual" : ""));
        const int64_t n = 7;
        HostTensor x = f32_tensor({n, dim}, random_floats(n * dim, static_cast<uint32_t>(dim), -3.0f, 3.0f));
        HostTensor residual = f32_tensor({n, dim}, random_floats(n * dim, static_cast<uint32_t>(dim) + 1, -2.0f, 2.0f));
        HostTensor weight = random_tensor(dtype, {dim}, 9);
        DeviceTensor x_device = upload(*backend_, x), residual_device = upload(*backend_, residual),
                     weight_device = upload(*backend_, weight);
        DeviceTensor out = out_is_residual ? upload(*backend_, residual) : device_nan(*backend_, {n, dim});
        backend_->add_rms_norm(x_device.view, out_is_residual ? out.view : residual_device.view, weight_device.view,
                               1e-5f, out.view);
        HostTensor expected(DType::kF32, {n, dim});
        reference_add(x.view, residual.view, x.view);
        reference_rms_norm(x.view, weight.view, 1e-5f, expected.view);
        HostTensor x_actual = download(*backend_, x_device), actual = download(*backend_, out);
        EXPECT_EQ(std::memcmp(x_actual.bytes.data(), x.bytes.data(), x.bytes.size()), 0) << "x += residual";
        expect_close(actual.f32(), expected.f32(), 1e-6, 1e-5, n * dim, "add_rms_norm");
      }
    }
  }
}

TEST_F(CudaFusedOps, RopeKvWriteIsRopeThenWrite) {
  for (DType cache_dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (RopeLayout layout : {RopeLayout::kInterleaved, RopeLayout::kHalfSplit}) {
      for (int64_t head_dim : {2, 10, 64, 128}) {
        SCOPED_TRACE(str(dtype_name(cache_dtype), layout == RopeLayout::kInterleaved ? " interleaved" : " half-split",
                         " head_dim=", head_dim));
        const int64_t n = 6, n_heads = 6, n_kv_heads = 2, n_blocks = 5, block_size = 3;
        HostTensor q = f32_tensor({n, n_heads, head_dim}, random_floats(n * n_heads * head_dim, 3));
        HostTensor k = f32_tensor({n, n_kv_heads, head_dim}, random_floats(n * n_kv_heads * head_dim, 4));
        HostTensor v = f32_tensor({n, n_kv_heads, head_dim}, random_floats(n * n_kv_heads * head_dim, 5));
        HostTensor positions = i32_tensor({0, 1, 7, 513, 8191, 131071});
        HostTensor slots = i32_tensor({11, 0, 14, 6, 3, 2});  // of the pool's 15, out of order
        std::vector<float> frequencies(static_cast<size_t>(head_dim / 2));
        for (int64_t j = 0; j < head_dim / 2; ++j) {
          frequencies[static_cast<size_t>(j)] = static_cast<float>(std::pow(500000.0, -2.0 * j / head_dim));
        }
        HostTensor inv_freq = f32_tensor({head_dim / 2}, frequencies);
        HostTensor k_cache = random_tensor(cache_dtype, {n_blocks, block_size, n_kv_heads, head_dim}, 6);
        HostTensor v_cache = random_tensor(cache_dtype, {n_blocks, block_size, n_kv_heads, head_dim}, 7);
        DeviceTensor q_device = upload(*backend_, q), k_device = upload(*backend_, k), v_device = upload(*backend_, v),
                     positions_device = upload(*backend_, positions), slots_device = upload(*backend_, slots),
                     freq_device = upload(*backend_, inv_freq), k_cache_device = upload(*backend_, k_cache),
                     v_cache_device = upload(*backend_, v_cache);
        backend_->rope_kv_write(q_device.view, k_device.view, v_device.view, positions_device.view, freq_device.view,
                                layout, KvCacheView{k_cache_device.view, v_cache_device.view}, slots_device.view);
        reference_rope(q.view, positions.view, inv_freq.view, layout);
        reference_rope(k.view, positions.view, inv_freq.view, layout);
        reference_kv_write(k.view, v.view, KvCacheView{k_cache.view, v_cache.view}, slots.view);
        HostTensor q_actual = download(*backend_, q_device), k_actual = download(*backend_, k_device);
        expect_close(q_actual.f32(), q.f32(), 1e-6, 1e-6, q.numel(), "rope q");
        expect_close(k_actual.f32(), k.f32(), 1e-6, 1e-6, k.numel(), "rope k");
        // The cache holds the rotated k rounded to its dtype: the device's rotation may differ
        // from the reference's in the last f32 bit, so compare as floats, not bytes.
        HostTensor k_cache_actual = download(*backend_, k_cache_device), v_cache_actual = download(*backend_, v_cache_device);
        const int64_t cache_elements = k_cache.numel();
        std::vector<float> k_expected(static_cast<size_t>(cache_elements)), k_got(static_cast<size_t>(cache_elements));
        for (int64_t i = 0; i < cache_elements; ++i) {
          k_expected[static_cast<size_t>(i)] = element_as_float(k_cache, i);
          k_got[static_cast<size_t>(i)] = element_as_float(k_cache_actual, i);
        }
        const double relative = cache_dtype == DType::kF32 ? 1e-6 : cache_dtype == DType::kF16 ? 1e-3 : 8e-3;
        expect_close(k_got.data(), k_expected.data(), relative, 1e-6, cache_elements, "k cache");
        EXPECT_EQ(std::memcmp(v_cache_actual.bytes.data(), v_cache.bytes.data(), v_cache.bytes.size()), 0) << "v cache";
      }
    }
  }
}

// A weight as floats [rows, columns].
std::vector<float> weight_floats(const HostTensor& w) {
  const int64_t rows = w.view.shape[0], columns = w.view.shape[1];
  std::vector<float> out(static_cast<size_t>(rows * columns));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(w.view.dtype, w.bytes.data() + r * dtype_row_bytes(w.view.dtype, columns), out.data() + r * columns,
                   columns);
  }
  return out;
}

// v rounded to dtype (f16 | bf16), or v when `round` is false.
float rounded(DType dtype, float v, bool round) {
  if (!round) return v;
  return dtype == DType::kF16 ? f16_to_float(float_to_f16(v)) : bf16_to_float(float_to_bf16(v));
}

// Steps of more than 8 rows run on tensor cores: x rounded to the weights' half type once.
bool on_tensor_cores(int64_t n, DType dtype) { return n > 8 && (dtype == DType::kF16 || dtype == DType::kBF16); }

TEST_F(CudaFusedOps, QkvProjectionIsThreeLinears) {
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16, DType::kQ8_0}) {
    for (bool stacked : {false, true}) {
      for (int64_t n : {1, 5, 9, 33}) {
        SCOPED_TRACE(str(dtype_name(dtype), " n=", n, stacked ? " stacked" : ""));
        const int64_t dim = 64, q_dim = 96, kv_dim = 32;
        HostTensor x = f32_tensor({n, dim}, random_floats(n * dim, static_cast<uint32_t>(n), -2.0f, 2.0f));
        HostTensor wqkv = random_tensor(dtype, {q_dim + 2 * kv_dim, dim}, static_cast<uint32_t>(n) + 7);
        std::vector<float> w = weight_floats(wqkv);
        DeviceTensor x_device = upload(*backend_, x), w_device = upload(*backend_, wqkv);
        const int64_t row_bytes = dtype_row_bytes(dtype, dim);
        auto* base = static_cast<std::byte*>(w_device.view.data);
        QkvWeights weights{.wq = TensorView{base, dtype, {q_dim, dim}},
                           .wk = TensorView{base + q_dim * row_bytes, dtype, {kv_dim, dim}},
                           .wv = TensorView{base + (q_dim + kv_dim) * row_bytes, dtype, {kv_dim, dim}},
                           .stacked = stacked ? w_device.view : TensorView{}};
        // q, k, v back to back, as a step's views are.
        DeviceTensor out = device_nan(*backend_, {n * (q_dim + 2 * kv_dim)});
        auto* out_base = static_cast<std::byte*>(out.view.data);
        TensorView q{out_base, DType::kF32, {n, q_dim}}, k{out_base + n * q_dim * 4, DType::kF32, {n, kv_dim}},
            v{out_base + n * (q_dim + kv_dim) * 4, DType::kF32, {n, kv_dim}};
        backend_->qkv_projection(x_device.view, weights, q, k, v);
        HostTensor actual = download(*backend_, out);
        const bool round = on_tensor_cores(n, dtype) || (n > 8 && dtype == DType::kQ8_0);  // q8_0: bf16 operands
        const DType half = dtype == DType::kF16 ? DType::kF16 : DType::kBF16;
        int64_t offset = 0;
        const std::pair<int64_t, int64_t> parts[] = {{0, q_dim}, {q_dim, kv_dim}, {q_dim + kv_dim, kv_dim}};
        for (auto [first_row, rows] : parts) {
          for (int64_t i = 0; i < n; ++i) {
            for (int64_t j = 0; j < rows; ++j) {
              double sum = 0, magnitude = 0;
              for (int64_t c = 0; c < dim; ++c) {
                const double term = double{rounded(half, x.f32()[i * dim + c], round)} * w[(first_row + j) * dim + c];
                sum += term;
                magnitude += std::fabs(term);
              }
              const float got = actual.f32()[offset + i * rows + j];
              // q8_0 on tensor cores: the weight is dequantized to bf16, one more rounding.
              const double relative = dtype == DType::kQ8_0 && round ? 1e-2 : 1e-5;
              ASSERT_NEAR(got, sum, relative * magnitude + 1e-6) << "row " << i << " output " << first_row + j;
            }
          }
          offset += n * rows;
        }
      }
    }
  }
}

// Against the same arithmetic on the host: on tensor cores x, the gate and up products and
// silu(gate) * up are each rounded to the weights' half type (as transformers' bf16 model
// rounds them); elsewhere all f32. The tolerance leaves room for a rounding that lands on the
// other side of a half-type tie after a different summation order.
TEST_F(CudaFusedOps, FeedForwardIsLinearSiluLinear) {
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    for (bool stacked : {false, true}) {
      for (int64_t n : {1, 5, 9, 33, 130}) {
        for (bool out_is_x : {false, true}) {
          SCOPED_TRACE(str(dtype_name(dtype), " n=", n, stacked ? " stacked" : "", out_is_x ? " out = x" : ""));
          const int64_t dim = 72, ffn = 200;
          HostTensor x = f32_tensor({n, dim}, random_floats(n * dim, static_cast<uint32_t>(n) + 3, -2.0f, 2.0f));
          HostTensor w13 = random_tensor(dtype, {2 * ffn, dim}, static_cast<uint32_t>(n) + 11);
          HostTensor w2 = random_tensor(dtype, {dim, ffn}, static_cast<uint32_t>(n) + 13);
          std::vector<float> w13_f = weight_floats(w13), w2_f = weight_floats(w2);
          DeviceTensor x_device = upload(*backend_, x), w2_device = upload(*backend_, w2);
          DeviceTensor w13_device = upload(*backend_, w13);
          auto* base = static_cast<std::byte*>(w13_device.view.data);
          FeedForwardWeights weights{.w1 = TensorView{base, dtype, {ffn, dim}},
                                     .w3 = TensorView{base + ffn * dtype_row_bytes(dtype, dim), dtype, {ffn, dim}},
                                     .w2 = w2_device.view,
                                     .gate_up = stacked ? w13_device.view : TensorView{}};
          DeviceTensor work = device_nan(*backend_, {2 * n, ffn});
          TensorView gate{work.view.data, DType::kF32, {n, ffn}};
          TensorView up{static_cast<std::byte*>(work.view.data) + n * ffn * 4, DType::kF32, {n, ffn}};
          DeviceTensor out_device = device_nan(*backend_, {n, dim});
          const TensorView out = out_is_x ? x_device.view : out_device.view;
          backend_->feed_forward(x_device.view, weights, gate, up, out);
          HostTensor actual = download(*backend_, out_is_x ? x_device : out_device);
          const bool round = on_tensor_cores(n, dtype);
          for (int64_t i = 0; i < n; ++i) {
            std::vector<double> act(static_cast<size_t>(ffn));
            for (int64_t c = 0; c < ffn; ++c) {
              double g = 0, u = 0;
              for (int64_t d = 0; d < dim; ++d) {
                const double xv = rounded(dtype, x.f32()[i * dim + d], round);
                g += xv * w13_f[c * dim + d];
                u += xv * w13_f[(ffn + c) * dim + d];
              }
              g = rounded(dtype, static_cast<float>(g), round);
              u = rounded(dtype, static_cast<float>(u), round);
              act[c] = rounded(dtype, static_cast<float>(g / (1.0 + std::exp(-g)) * u), round);
            }
            for (int64_t j = 0; j < dim; ++j) {
              double sum = 0, magnitude = 0;
              for (int64_t c = 0; c < ffn; ++c) {
                sum += act[c] * w2_f[j * ffn + c];
                magnitude += std::fabs(act[c] * w2_f[j * ffn + c]);
              }
              ASSERT_NEAR(actual.f32()[i * dim + j], sum, (round ? 5e-3 : 1e-5) * magnitude + 1e-6)
                  << "row " << i << " column " << j;
            }
          }
        }
      }
    }
  }
}

// A norm may write the products' operand in the device's half type (Backend::operand_dtype):
// the same bits as the f32 norm rounded to nearest even, and the products then give exactly what
// they give for the f32 input, which they would round themselves.
TEST_F(CudaFusedOps, NormsWriteTheProductsHalfOperand) {
  EXPECT_EQ(backend_->operand_dtype(8, DType::kBF16), DType::kF32);  // the GEMV reads f32
  EXPECT_EQ(backend_->operand_dtype(9, DType::kBF16), DType::kBF16);
  EXPECT_EQ(backend_->operand_dtype(9, DType::kQ8_0), DType::kF32);
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    for (int64_t n : {9, 130}) {
      for (int64_t dim : {72, 4096}) {
        SCOPED_TRACE(str(dtype_name(dtype), " n=", n, " dim=", dim));
        ASSERT_EQ(backend_->operand_dtype(n, dtype), dtype);
        HostTensor x = f32_tensor({n, dim}, random_floats(n * dim, static_cast<uint32_t>(dim), -3.0f, 3.0f));
        HostTensor residual = f32_tensor({n, dim}, random_floats(n * dim, static_cast<uint32_t>(n), -1.0f, 1.0f));
        HostTensor norm_weight = random_tensor(DType::kBF16, {dim}, 5);
        DeviceTensor x_f32 = upload(*backend_, x), x_half_path = upload(*backend_, x);
        DeviceTensor residual_device = upload(*backend_, residual), w_device = upload(*backend_, norm_weight);
        DeviceTensor normed_f32 = device_nan(*backend_, {n, dim});
        HostTensor half_init(dtype, {n, dim});
        DeviceTensor normed_half = upload(*backend_, half_init);
        backend_->add_rms_norm(x_f32.view, residual_device.view, w_device.view, 1e-5f, normed_f32.view);
        backend_->add_rms_norm(x_half_path.view, residual_device.view, w_device.view, 1e-5f, normed_half.view);
        HostTensor f32_out = download(*backend_, normed_f32), half_out = download(*backend_, normed_half);
        for (int64_t i = 0; i < n * dim; ++i) {
          const uint16_t want = dtype == DType::kBF16 ? float_to_bf16(f32_out.f32()[i]) : float_to_f16(f32_out.f32()[i]);
          ASSERT_EQ(half_out.as<uint16_t>()[i], want) << i;
        }
        // The products from either input.
        const int64_t ffn = 96, q_dim = 64, kv_dim = 32;
        HostTensor wqkv = random_tensor(dtype, {q_dim + 2 * kv_dim, dim}, 21);
        HostTensor w13 = random_tensor(dtype, {2 * ffn, dim}, 22), w2 = random_tensor(dtype, {dim, ffn}, 23);
        DeviceTensor wqkv_d = upload(*backend_, wqkv), w13_d = upload(*backend_, w13), w2_d = upload(*backend_, w2);
        auto* qkv_base = static_cast<std::byte*>(wqkv_d.view.data);
        const int64_t row_bytes = dim * 2;
        const QkvWeights qkv{.wq = TensorView{qkv_base, dtype, {q_dim, dim}},
                             .wk = TensorView{qkv_base + q_dim * row_bytes, dtype, {kv_dim, dim}},
                             .wv = TensorView{qkv_base + (q_dim + kv_dim) * row_bytes, dtype, {kv_dim, dim}}};
        const FeedForwardWeights ff{
            .w1 = TensorView{w13_d.view.data, dtype, {ffn, dim}},
            .w3 = TensorView{static_cast<std::byte*>(w13_d.view.data) + ffn * row_bytes, dtype, {ffn, dim}},
            .w2 = w2_d.view,
            .gate_up = w13_d.view};
        std::vector<std::vector<std::byte>> results;
        for (const DeviceTensor* input : {&normed_f32, &normed_half}) {
          DeviceTensor q = device_nan(*backend_, {n, q_dim}), k = device_nan(*backend_, {n, kv_dim});
          DeviceTensor v = device_nan(*backend_, {n, kv_dim}), out = device_nan(*backend_, {n, dim});
          DeviceTensor gate = device_nan(*backend_, {n, ffn}), up = device_nan(*backend_, {n, ffn});
          backend_->qkv_projection(input->view, qkv, q.view, k.view, v.view);
          backend_->feed_forward(input->view, ff, gate.view, up.view, out.view);
          std::vector<std::byte> all;
          for (const DeviceTensor* t : {&q, &k, &v, &out}) {
            HostTensor host = download(*backend_, *t);
            all.insert(all.end(), host.bytes.begin(), host.bytes.end());
          }
          results.push_back(std::move(all));
        }
        EXPECT_TRUE(results[0] == results[1]) << "products of the f32 and the half operand differ";
      }
    }
  }
}

}  // namespace
}  // namespace llm::test
