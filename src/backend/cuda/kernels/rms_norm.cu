// RMSNorm: one block per row; the sum of squares in f32 per thread, then a block reduction.
// (The reference sums in double; f32 over a few thousand O(1) squares stays within ~1e-6 relative.)
// A decode step normalises one row, so a block's latency is the step's: rows that fit hold each
// thread's elements in registers, loaded with 16-byte loads all in flight at once (one trip to
// memory, ~2 us for 4,096 floats, where a strided loop took ~10 us).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/early_launch.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxVectors = 16;  // float4s a thread holds: rows up to 16,384 floats

__device__ __forceinline__ float block_sum(float sum) {
  __shared__ float warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
  __syncthreads();
  float total = 0.0f;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
  return total;
}

// transformers: weight * (x * rsqrt(var + eps)), the normalised value rounded to f32 first.
__device__ __forceinline__ float scaled(float value, float inverse_rms, const void* weight, DType dtype, int64_t j) {
  const float normalised = value * inverse_rms;
  return normalised * load_dense(weight, dtype, j);
}

// x f32 [n, dim]; out [n, dim] f32 (may alias x: each element is read and written by the same
// thread) or a half type (the next product's operand, rounded to nearest even); weight [dim]
// dense. With a residual, x += residual first (x written back): the residual add of the sublayer
// before, fused. Each thread touches the same elements in both passes.
template <typename OutT>
__global__ void __launch_bounds__(kThreads) rms_norm_rows(float* x, const float* residual, const void* weight,
                                                          DType weight_dtype, float eps, int64_t dim, OutT* out) {
  wait_for_prior_kernels();
  allow_next_kernels();
  float* row = x + blockIdx.x * dim;
  float sum = 0.0f;
  if (residual != nullptr) {
    const float* add = residual + blockIdx.x * dim;
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
      const float value = row[j] + add[j];
      row[j] = value;
      sum += value * value;
    }
  } else {
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) sum += row[j] * row[j];
  }
  const float inverse_rms = rsqrtf(block_sum(sum) / static_cast<float>(dim) + eps);
  OutT* result = out + blockIdx.x * dim;
  for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
    result[j] = from_float<OutT>(scaled(row[j], inverse_rms, weight, weight_dtype, j));
  }
}

// The same for dim % 4 == 0, 16-byte aligned rows of at most kVectors * 4 * kThreads floats:
// thread t holds float4s t, t + kThreads, ... of its row.
template <typename OutT, int kVectors>
__global__ void __launch_bounds__(kThreads)
    rms_norm_rows_in_registers(float* x, const float* residual, const void* weight, DType weight_dtype, float eps,
                               int64_t dim, OutT* out) {
  wait_for_prior_kernels();
  allow_next_kernels();
  const int64_t quads = dim / 4;
  auto* row = reinterpret_cast<float4*>(x + blockIdx.x * dim);
  float4 values[kVectors];
#pragma unroll
  for (int v = 0; v < kVectors; ++v) {
    const int64_t q = threadIdx.x + v * kThreads;
    values[v] = q < quads ? row[q] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }
  if (residual != nullptr) {
    const auto* add = reinterpret_cast<const float4*>(residual + blockIdx.x * dim);
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
      const int64_t q = threadIdx.x + v * kThreads;
      if (q >= quads) continue;
      const float4 r = add[q];
      values[v] = make_float4(values[v].x + r.x, values[v].y + r.y, values[v].z + r.z, values[v].w + r.w);
      row[q] = values[v];
    }
  }
  float sum = 0.0f;
#pragma unroll
  for (int v = 0; v < kVectors; ++v) {
    sum += values[v].x * values[v].x + values[v].y * values[v].y + values[v].z * values[v].z +
           values[v].w * values[v].w;
  }
  const float inverse_rms = rsqrtf(block_sum(sum) / static_cast<float>(dim) + eps);
  OutT* result = out + blockIdx.x * dim;
#pragma unroll
  for (int v = 0; v < kVectors; ++v) {
    const int64_t q = threadIdx.x + v * kThreads;
    if (q >= quads) continue;
    const int64_t j = 4 * q;
    const float a = scaled(values[v].x, inverse_rms, weight, weight_dtype, j);
    const float b = scaled(values[v].y, inverse_rms, weight, weight_dtype, j + 1);
    const float c = scaled(values[v].z, inverse_rms, weight, weight_dtype, j + 2);
    const float d = scaled(values[v].w, inverse_rms, weight, weight_dtype, j + 3);
    if constexpr (sizeof(OutT) == 4) {
      reinterpret_cast<float4*>(result)[q] = make_float4(a, b, c, d);
    } else {  // four halves: one 8-byte store
      const OutT packed[4] = {from_float<OutT>(a), from_float<OutT>(b), from_float<OutT>(c), from_float<OutT>(d)};
      reinterpret_cast<uint2*>(result)[q] = *reinterpret_cast<const uint2*>(packed);
    }
  }
}

template <typename OutT>
void launch(float* x, const float* residual, const void* weight, DType weight_dtype, float eps, int64_t n,
            int64_t dim, OutT* out, cudaStream_t stream) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const int64_t per_thread = (dim / 4 + kThreads - 1) / kThreads;
  if (dim % 4 != 0 || per_thread > kMaxVectors || !aligned(x) || !aligned(out) ||
      (residual != nullptr && !aligned(residual))) {
    launch_early(rms_norm_rows<OutT>, n, kThreads, stream, x, residual, weight, weight_dtype, eps, dim, out);
  } else if (per_thread <= 1) {
    launch_early(rms_norm_rows_in_registers<OutT, 1>, n, kThreads, stream, x, residual, weight, weight_dtype, eps,
                 dim, out);
  } else if (per_thread <= 2) {
    launch_early(rms_norm_rows_in_registers<OutT, 2>, n, kThreads, stream, x, residual, weight, weight_dtype, eps,
                 dim, out);
  } else if (per_thread <= 4) {
    launch_early(rms_norm_rows_in_registers<OutT, 4>, n, kThreads, stream, x, residual, weight, weight_dtype, eps,
                 dim, out);
  } else if (per_thread <= 8) {
    launch_early(rms_norm_rows_in_registers<OutT, 8>, n, kThreads, stream, x, residual, weight, weight_dtype, eps,
                 dim, out);
  } else {
    launch_early(rms_norm_rows_in_registers<OutT, 16>, n, kThreads, stream, x, residual, weight, weight_dtype, eps,
                 dim, out);
  }
}

void launch_any(float* x, const float* residual, const void* weight, DType weight_dtype, float eps, int64_t n,
                int64_t dim, void* out, DType out_dtype, cudaStream_t stream) {
  if (n == 0) return;
  with_float_type(out_dtype, "rms_norm out", [&]<typename T>(T) {
    launch(x, residual, weight, weight_dtype, eps, n, dim, static_cast<T*>(out), stream);
  });
}

}  // namespace

void launch_rms_norm(const float* x, const void* weight, DType weight_dtype, float eps, int64_t n, int64_t dim,
                     void* out, DType out_dtype, cudaStream_t stream) {
  // Read only: the kernels write x only when given a residual.
  launch_any(const_cast<float*>(x), nullptr, weight, weight_dtype, eps, n, dim, out, out_dtype, stream);
  check_launch("rms_norm");
}

void launch_add_rms_norm(float* x, const float* residual, const void* weight, DType weight_dtype, float eps, int64_t n,
                         int64_t dim, void* out, DType out_dtype, cudaStream_t stream) {
  launch_any(x, residual, weight, weight_dtype, eps, n, dim, out, out_dtype, stream);
  check_launch("add_rms_norm");
}

}  // namespace llm::cuda
