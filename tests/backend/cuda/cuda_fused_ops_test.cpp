// The CUDA backend's fused kernels against the CPU reference ops they fuse, run one after the
// other: add + rms_norm, and rope(q) + rope(k) + kv_write. Outputs start as NaN. Needs a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backend/cpu/reference_ops.h"
#include "backend/cuda/cuda_test_util.h"
#include "core/half.h"

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
    for (int64_t dim : {1, 37, 300, 4096}) {
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

}  // namespace
}  // namespace llm::test
