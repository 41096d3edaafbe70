// Matrix-vector products for decode: out[r, j] = sum_c x[r, c] * weight[j, c] for up to 8 rows r,
// f32 accumulation. Decode is bound by reading the weights once, so each warp streams one weight
// row with 16-byte loads (several in flight per lane) and applies it to all N rows of x, which
// stay in L1/L2 (they are shared by every warp of the grid).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/early_launch.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kThreads = kWarpsPerBlock * 32;
constexpr int kUnroll = 4;  // 16-byte weight loads in flight per lane

template <int N>
__device__ __forceinline__ void warp_reduce_store(float (&acc)[N], float* out, int64_t m, int64_t j) {
#pragma unroll
  for (int r = 0; r < N; ++r) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], offset);
  }
  if (threadIdx.x % 32 == 0) {
#pragma unroll
    for (int r = 0; r < N; ++r) out[r * m + j] = acc[r];
  }
}

// 8 weights of one 16-byte chunk as floats.
template <typename W>
__device__ __forceinline__ void unpack(const uint4& raw, float (&w)[16 / sizeof(W)]) {
  const W* values = reinterpret_cast<const W*>(&raw);
#pragma unroll
  for (int e = 0; e < static_cast<int>(16 / sizeof(W)); ++e) w[e] = to_float<W>(values[e]);
}

// The first 4 KiB of a weight row into L2, one 128-byte line a lane: weights are never written
// during a step, so this may run before wait_for_prior_kernels().
__device__ __forceinline__ void prefetch_row_start(const void* row, int64_t row_bytes, int lane) {
  if (lane * 128 < row_bytes) {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(static_cast<const char*>(row) + lane * 128));
  }
}

// Vector path: k % (16 / sizeof(W)) == 0, weight and x 16-byte aligned.
// x f32 [N, k]; weight W [m, k]; out f32 [N, m]. Double-buffered: the loads of the next kUnroll
// chunks are in flight while the current ones are used, and the first ones go out before the wait
// for the kernel that writes x.
template <typename W, int N>
__global__ void __launch_bounds__(kThreads) gemv_dense_vec(const float* __restrict__ x, int64_t k,
                                                           const W* __restrict__ weight, int64_t m,
                                                           float* __restrict__ out) {
  constexpr int V = 16 / sizeof(W);  // elements per 16-byte chunk
  constexpr int kStep = 32 * kUnroll;
  const int lane = threadIdx.x % 32;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const bool active = j < m;
  const uint4* row = reinterpret_cast<const uint4*>(weight + (active ? j : 0) * k);
  const int64_t chunks = k / V;
  uint4 next[kUnroll];
  auto load = [&](int64_t c) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) next[u] = __ldcs(row + c + 32 * u);  // streamed: read once
  };
  int64_t c = lane;
  if (active && c + 32 * (kUnroll - 1) < chunks) load(c);
  wait_for_prior_kernels();
  allow_next_kernels();
  if (!active) return;
  float acc[N] = {};
  for (; c + 32 * (kUnroll - 1) < chunks; c += kStep) {
    uint4 raw[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) raw[u] = next[u];
    if (c + kStep + 32 * (kUnroll - 1) < chunks) load(c + kStep);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float w[V];
      unpack<W>(raw[u], w);
      const int64_t column = (c + 32 * u) * V;
#pragma unroll
      for (int r = 0; r < N; ++r) {
        const float4* xs = reinterpret_cast<const float4*>(x + r * k + column);
#pragma unroll
        for (int q = 0; q < V / 4; ++q) {
          const float4 xv = __ldg(xs + q);
          acc[r] += w[4 * q] * xv.x + w[4 * q + 1] * xv.y + w[4 * q + 2] * xv.z + w[4 * q + 3] * xv.w;
        }
      }
    }
  }
  for (; c < chunks; c += 32) {
    float w[V];
    unpack<W>(__ldcs(row + c), w);
#pragma unroll
    for (int r = 0; r < N; ++r) {
      const float4* xs = reinterpret_cast<const float4*>(x + r * k + c * V);
#pragma unroll
      for (int q = 0; q < V / 4; ++q) {
        const float4 xv = __ldg(xs + q);
        acc[r] += w[4 * q] * xv.x + w[4 * q + 1] * xv.y + w[4 * q + 2] * xv.z + w[4 * q + 3] * xv.w;
      }
    }
  }
  warp_reduce_store<N>(acc, out, m, j);
}

// Vector path for several rows of x (N >= 2): each warp streams R weight rows at once, so every
// x chunk loaded from L1 serves R rows. With one weight row per warp the x loads (N * 32 bytes
// per 16 weight bytes) saturate L1 long before HBM; measured on an H100: 8 rows of x over a
// 4096x4096 bf16 weight ran at 0.85 TB/s with R = 1.
// x f32 [N, k]; weight W [m, k]; out f32 [N, m]; m % R == 0 is not required.
template <typename W, int N, int R>
__global__ void __launch_bounds__(kThreads) gemv_dense_vec_rows(const float* __restrict__ x, int64_t k,
                                                                const W* __restrict__ weight, int64_t m,
                                                                float* __restrict__ out) {
  constexpr int V = 16 / sizeof(W);
  const int lane = threadIdx.x % 32;
  const int64_t j0 = (static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32) * R;
  const int64_t chunks = k / V;
  const uint4* rows[R];
#pragma unroll
  for (int q = 0; q < R; ++q) {
    rows[q] = reinterpret_cast<const uint4*>(weight + min(j0 + q, m - 1) * k);
    if (j0 < m) prefetch_row_start(rows[q], k * static_cast<int64_t>(sizeof(W)), lane);
  }
  wait_for_prior_kernels();
  allow_next_kernels();
  if (j0 >= m) return;
  float acc[R][N] = {};
  for (int64_t c = lane; c < chunks; c += 32) {
    uint4 raw[R];
#pragma unroll
    for (int q = 0; q < R; ++q) raw[q] = __ldcs(rows[q] + c);
#pragma unroll
    for (int h = 0; h < V / 4; ++h) {
      float4 xv[N];
#pragma unroll
      for (int r = 0; r < N; ++r) xv[r] = __ldg(reinterpret_cast<const float4*>(x + r * k + c * V) + h);
#pragma unroll
      for (int q = 0; q < R; ++q) {
        float w[V];
        unpack<W>(raw[q], w);
#pragma unroll
        for (int r = 0; r < N; ++r) {
          acc[q][r] += w[4 * h] * xv[r].x + w[4 * h + 1] * xv[r].y + w[4 * h + 2] * xv[r].z + w[4 * h + 3] * xv[r].w;
        }
      }
    }
  }
#pragma unroll
  for (int q = 0; q < R; ++q) {
#pragma unroll
    for (int r = 0; r < N; ++r) {
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2) acc[q][r] += __shfl_xor_sync(0xffffffffu, acc[q][r], offset);
    }
  }
  if (lane == 0) {
#pragma unroll
    for (int q = 0; q < R; ++q) {
      if (j0 + q < m) {
#pragma unroll
        for (int r = 0; r < N; ++r) out[r * m + j0 + q] = acc[q][r];
      }
    }
  }
}

// Scalar path for any k and alignment (odd shapes).
template <typename W, int N>
__global__ void __launch_bounds__(kThreads) gemv_dense_scalar(const float* __restrict__ x, int64_t k,
                                                              const W* __restrict__ weight, int64_t m,
                                                              float* __restrict__ out) {
  wait_for_prior_kernels();
  allow_next_kernels();
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (j >= m) return;
  float acc[N] = {};
  for (int64_t c = threadIdx.x % 32; c < k; c += 32) {
    const float w = to_float<W>(weight[j * k + c]);
#pragma unroll
    for (int r = 0; r < N; ++r) acc[r] += w * x[r * k + c];
  }
  warp_reduce_store<N>(acc, out, m, j);
}

// Quantized weights: lanes take 32-element pieces of the row, dequantized in registers.
template <DType kType, int N>
__global__ void __launch_bounds__(kThreads) gemv_quantized(const float* __restrict__ x, int64_t k,
                                                           const uint8_t* __restrict__ weight, int64_t m,
                                                           float* __restrict__ out) {
  using Traits = QuantTraits<kType>;
  wait_for_prior_kernels();
  allow_next_kernels();
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (j >= m) return;
  const uint8_t* row = weight + j * (k / Traits::kBlockElements * Traits::kBlockBytes);
  float acc[N] = {};
  for (int64_t piece = threadIdx.x % 32; piece < k / kPiece; piece += 32) {
    float w[kPiece];
    dequantize_piece<kType>(row, piece, w);
#pragma unroll
    for (int r = 0; r < N; ++r) {
      const float* xs = x + r * k + piece * kPiece;
#pragma unroll
      for (int l = 0; l < kPiece; ++l) acc[r] += w[l] * xs[l];
    }
  }
  warp_reduce_store<N>(acc, out, m, j);
}

// The vector kernel for N rows of x: one weight row per warp for N == 1 (already at HBM speed),
// four per warp otherwise.
template <typename W, int N>
void launch_dense_vec(const float* x, int64_t k, const W* weight, int64_t m, float* out, cudaStream_t stream) {
  if constexpr (N == 1) {
    const int64_t blocks = (m + kWarpsPerBlock - 1) / kWarpsPerBlock;
    launch_early(gemv_dense_vec<W, 1>, blocks, kThreads, stream, x, k, weight, m, out);
  } else {
    constexpr int R = 4;
    const int64_t blocks = (m + kWarpsPerBlock * R - 1) / (kWarpsPerBlock * R);
    launch_early(gemv_dense_vec_rows<W, N, R>, blocks, kThreads, stream, x, k, weight, m, out);
  }
}

template <int N>
void launch_rows(const float* x, int64_t k, const void* weight, DType dtype, int64_t m, float* out,
                 cudaStream_t stream) {
  const int64_t blocks = (m + kWarpsPerBlock - 1) / kWarpsPerBlock;
  const auto* bytes = static_cast<const uint8_t*>(weight);
  auto aligned = [&](int64_t element_bytes) {
    const int64_t v = 16 / element_bytes;
    return k % v == 0 && k % 4 == 0 && reinterpret_cast<uintptr_t>(weight) % 16 == 0 &&
           reinterpret_cast<uintptr_t>(x) % 16 == 0;
  };
  switch (dtype) {
    case DType::kF32:
      if (aligned(4)) {
        launch_dense_vec<float, N>(x, k, static_cast<const float*>(weight), m, out, stream);
      } else {
        launch_early(gemv_dense_scalar<float, N>, blocks, kThreads, stream, x, k, static_cast<const float*>(weight), m,
                     out);
      }
      break;
    case DType::kF16:
      if (aligned(2)) {
        launch_dense_vec<__half, N>(x, k, static_cast<const __half*>(weight), m, out, stream);
      } else {
        launch_early(gemv_dense_scalar<__half, N>, blocks, kThreads, stream, x, k, static_cast<const __half*>(weight), m,
                     out);
      }
      break;
    case DType::kBF16:
      if (aligned(2)) {
        launch_dense_vec<__nv_bfloat16, N>(x, k, static_cast<const __nv_bfloat16*>(weight), m, out, stream);
      } else {
        launch_early(gemv_dense_scalar<__nv_bfloat16, N>, blocks, kThreads, stream, x, k,
                     static_cast<const __nv_bfloat16*>(weight), m, out);
      }
      break;
    case DType::kI32: LLM_CHECK(false, "linear: i32 weights");
    case DType::kQ8_0: launch_early(gemv_quantized<DType::kQ8_0, N>, blocks, kThreads, stream, x, k, bytes, m, out); break;
    case DType::kQ4_0: launch_early(gemv_quantized<DType::kQ4_0, N>, blocks, kThreads, stream, x, k, bytes, m, out); break;
    case DType::kQ4_K: launch_early(gemv_quantized<DType::kQ4_K, N>, blocks, kThreads, stream, x, k, bytes, m, out); break;
    case DType::kQ6_K: launch_early(gemv_quantized<DType::kQ6_K, N>, blocks, kThreads, stream, x, k, bytes, m, out); break;
  }
  check_launch("gemv");
}

}  // namespace

void launch_gemv(const float* x, int64_t n, int64_t k, const void* weight, DType dtype, int64_t m, float* out,
                 cudaStream_t stream) {
  LLM_CHECK(n <= kGemvMaxRows, "gemv: ", n, " rows, at most ", kGemvMaxRows);
  // Rows in groups of 8, 4, 2, 1: a group reads the weights once.
  int64_t row = 0;
  while (row < n) {
    const int64_t left = n - row;
    const float* xs = x + row * k;
    float* outs = out + row * m;
    if (left >= 8) {
      launch_rows<8>(xs, k, weight, dtype, m, outs, stream);
      row += 8;
    } else if (left >= 4) {
      launch_rows<4>(xs, k, weight, dtype, m, outs, stream);
      row += 4;
    } else if (left >= 2) {
      launch_rows<2>(xs, k, weight, dtype, m, outs, stream);
      row += 2;
    } else {
      launch_rows<1>(xs, k, weight, dtype, m, outs, stream);
      row += 1;
    }
  }
}

}  // namespace llm::cuda
