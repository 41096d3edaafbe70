// Elementwise ops: silu_mul (f32, and half for the feed-forward's tensor-core path), add,
// gather_rows. Grid-stride loops; memory bound.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/early_launch.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

constexpr int kThreads = 256;

int64_t grid_for(int64_t count) { return std::min<int64_t>((count + kThreads - 1) / kThreads, 65535 * 8); }

// All f32 [count]; out may alias gate or up (element i is read before it is written).
__global__ void silu_mul_kernel(const float* gate, const float* up, float* out, int64_t count) {
  wait_for_prior_kernels();
  allow_next_kernels();
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const float g = gate[i];
    // silu in double, as the reference: expf's error near the saturation point would show.
    const double silu = g / (1.0 + exp(-static_cast<double>(g)));
    out[i] = static_cast<float>(silu * up[i]);
  }
}

// out[r, j] = silu(gate[r, j]) * up[r, j] in a half type T, the rows of gate and up `stride`
// elements apart (w1|w3 stacked: gate and up halves of one [n, 2 ffn] product), out [n, ffn]
// dense. kVec elements per thread: 8 (16-byte loads) when everything is aligned for it.
template <typename T, int kVec>
__global__ void silu_mul_half_kernel(const T* gate, const T* up, int64_t stride, int64_t n, int64_t ffn, T* out) {
  const int64_t per_row = ffn / kVec;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n * per_row;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t row = i / per_row, column = (i % per_row) * kVec;
    T g[kVec], u[kVec], o[kVec];
    if constexpr (kVec == 8) {
      *reinterpret_cast<uint4*>(g) = *reinterpret_cast<const uint4*>(gate + row * stride + column);
      *reinterpret_cast<uint4*>(u) = *reinterpret_cast<const uint4*>(up + row * stride + column);
    } else {
      g[0] = gate[row * stride + column];
      u[0] = up[row * stride + column];
    }
#pragma unroll
    for (int l = 0; l < kVec; ++l) {
      const float x = to_float(g[l]);
      o[l] = from_float<T>(x / (1.0f + __expf(-x)) * to_float(u[l]));
    }
    if constexpr (kVec == 8) {
      *reinterpret_cast<uint4*>(out + row * ffn + column) = *reinterpret_cast<const uint4*>(o);
    } else {
      out[row * ffn + column] = o[0];
    }
  }
}

template <typename T>
void launch_silu_mul_half_typed(const void* gate, const void* up, int64_t stride, int64_t n, int64_t ffn, void* out,
                                cudaStream_t stream) {
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const bool vec8 = ffn % 8 == 0 && stride % 8 == 0 && aligned(gate) && aligned(up) && aligned(out);
  const auto* g = static_cast<const T*>(gate);
  const auto* u = static_cast<const T*>(up);
  auto* o = static_cast<T*>(out);
  if (vec8) {
    silu_mul_half_kernel<T, 8><<<grid_for(n * ffn / 8), kThreads, 0, stream>>>(g, u, stride, n, ffn, o);
  } else {
    silu_mul_half_kernel<T, 1><<<grid_for(n * ffn), kThreads, 0, stream>>>(g, u, stride, n, ffn, o);
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
  launch_early(silu_mul_kernel, grid_for(count), kThreads, stream, gate, up, out, count);
  check_launch("silu_mul");
}

void launch_silu_mul_half(const void* gate, const void* up, int64_t stride, int64_t n, int64_t ffn, void* out,
                          DType dtype, cudaStream_t stream) {
  if (n == 0 || ffn == 0) return;
  LLM_CHECK(dtype == DType::kBF16 || dtype == DType::kF16, "silu_mul_half: dtype ", dtype_name(dtype));
  if (dtype == DType::kBF16) {
    launch_silu_mul_half_typed<__nv_bfloat16>(gate, up, stride, n, ffn, out, stream);
  } else {
    launch_silu_mul_half_typed<__half>(gate, up, stride, n, ffn, out, stream);
  }
  check_launch("silu_mul_half");
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
