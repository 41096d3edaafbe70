// Elementwise f32 ops: silu_mul, add, gather_rows. Grid-stride loops; memory bound.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

constexpr int kThreads = 256;

int64_t grid_for(int64_t count) { return std::min<int64_t>((count + kThreads - 1) / kThreads, 65535 * 8); }

// All f32 [count]; out may alias gate or up (element i is read before it is written).
__global__ void silu_mul_kernel(const float* gate, const float* up, float* out, int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const float g = gate[i];
    // silu in double, as the reference: expf's error near the saturation point would show.
    const double silu = g / (1.0 + exp(-static_cast<double>(g)));
    out[i] = static_cast<float>(silu * up[i]);
  }
}

__global__ void add_kernel(const float* a, const float* b, float* out, int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    out[i] = a[i] + b[i];
  }
}

// x f32 [n, d]; rows i32 [m]; out f32 [m, d].
__global__ void gather_rows_kernel(const float* x, int64_t n, int64_t d, const int32_t* rows, float* out) {
  const int64_t i = blockIdx.x;
  const int64_t row = rows[i];
  const bool valid = row >= 0 && row < n;
  for (int64_t j = threadIdx.x; j < d; j += kThreads) out[i * d + j] = valid ? x[row * d + j] : __int_as_float(0x7fc00000);
}

}  // namespace

void launch_silu_mul(const float* gate, const float* up, float* out, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  silu_mul_kernel<<<grid_for(count), kThreads, 0, stream>>>(gate, up, out, count);
  check_launch("silu_mul");
}

void launch_add(const float* a, const float* b, float* out, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  add_kernel<<<grid_for(count), kThreads, 0, stream>>>(a, b, out, count);
  check_launch("add");
}

void launch_gather_rows(const float* x, int64_t n, int64_t d, const int32_t* rows, int64_t m, float* out,
                        cudaStream_t stream) {
  if (m == 0) return;
  gather_rows_kernel<<<m, kThreads, 0, stream>>>(x, n, d, rows, out);
  check_launch("gather_rows");
}

}  // namespace llm::cuda
