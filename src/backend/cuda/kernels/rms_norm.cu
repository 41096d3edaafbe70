// RMSNorm: one block per row; the sum of squares in f32 per thread, then a block reduction.
// (The reference sums in double; f32 over a few thousand O(1) squares stays within ~1e-6 relative.)
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

constexpr int kThreads = 256;

// x, out f32 [n, dim] (may alias: each element is read and written by the same thread);
// weight [dim] dense. With a residual, x += residual first (x written back): the residual add
// of the sublayer before, fused. Each thread touches the same elements in both passes.
__global__ void rms_norm_rows(float* x, const float* residual, const void* weight, DType weight_dtype, float eps,
                              int64_t dim, float* out) {
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
  __shared__ float warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
  __syncthreads();
  float total = 0.0f;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
  const float inverse_rms = rsqrtf(total / static_cast<float>(dim) + eps);
  float* result = out + blockIdx.x * dim;
  for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
    // transformers: weight * (x * rsqrt(var + eps)), the normalised value rounded to f32 first.
    const float normalised = row[j] * inverse_rms;
    result[j] = normalised * load_dense(weight, weight_dtype, j);
  }
}

}  // namespace

void launch_rms_norm(const float* x, const void* weight, DType weight_dtype, float eps, int64_t n, int64_t dim,
                     float* out, cudaStream_t stream) {
  if (n == 0) return;
  // Read only: the kernel writes x only when given a residual.
  rms_norm_rows<<<n, kThreads, 0, stream>>>(const_cast<float*>(x), nullptr, weight, weight_dtype, eps, dim, out);
  check_launch("rms_norm");
}

void launch_add_rms_norm(float* x, const float* residual, const void* weight, DType weight_dtype, float eps, int64_t n,
                         int64_t dim, float* out, cudaStream_t stream) {
  if (n == 0) return;
  rms_norm_rows<<<n, kThreads, 0, stream>>>(x, residual, weight, weight_dtype, eps, dim, out);
  check_launch("add_rms_norm");
}

}  // namespace llm::cuda
