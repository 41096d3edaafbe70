// RoPE: one thread per (row, head, pair). The angle is the f32 product position * inv_freq, as
// transformers computes it; cos and sin of that angle in double, as the reference does, so both
// agree to the last bit on the rotation (llama3 frequency scaling is already in inv_freq).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/kernels.h"

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
  const int64_t row = head / n_heads;
  const float angle = __fmul_rn(static_cast<float>(positions[row]), inv_freq[j]);
  double sin_angle, cos_angle;
  sincos(static_cast<double>(angle), &sin_angle, &cos_angle);
  const float cos_f = static_cast<float>(cos_angle), sin_f = static_cast<float>(sin_angle);
  float* base = x + head * head_dim;
  const int64_t first = interleaved ? 2 * j : j;
  const int64_t second = interleaved ? 2 * j + 1 : j + half;
  const double x0 = base[first], x1 = base[second];
  base[first] = static_cast<float>(x0 * cos_f - x1 * sin_f);
  base[second] = static_cast<float>(x0 * sin_f + x1 * cos_f);
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
