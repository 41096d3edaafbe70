// RoPE: one thread per (row, head, pair); the rotation itself is in rope_math.cuh.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/kernels/rope_math.cuh"

namespace llm::cuda {
namespace {

// x f32 [n, n_heads, head_dim]; positions i32 [n]; inv_freq f32 [head_dim / 2].
__global__ void rope_pairs(float* x, int64_t n_heads, int64_t head_dim, const int32_t* positions,
                           const float* inv_freq, bool interleaved, int64_t total_pairs) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= total_pairs) return;
  const int64_t half = head_dim / 2;
  const int64_t j = index % half;
  const int64_t head = index / half;  // row * n_heads + h
  rope_rotate_pair(x + head * head_dim, head_dim, j, positions[head / n_heads], inv_freq, interleaved);
}

}  // namespace

void launch_rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim, const int32_t* positions,
                 const float* inv_freq, RopeLayout layout, cudaStream_t stream) {
  const int64_t total_pairs = n * n_heads * (head_dim / 2);
  if (total_pairs == 0) return;
  bool interleaved = false;
  switch (layout) {
    case RopeLayout::kInterleaved: interleaved = true; break;
    case RopeLayout::kHalfSplit: interleaved = false; break;
  }
  constexpr int kThreads = 256;
  const int64_t blocks = (total_pairs + kThreads - 1) / kThreads;
  rope_pairs<<<blocks, kThreads, 0, stream>>>(x, n_heads, head_dim, positions, inv_freq, interleaved, total_pairs);
  check_launch("rope");
}

}  // namespace llm::cuda
