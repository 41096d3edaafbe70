// One RoPE rotation, shared by the rope kernel and the fused rope + KV write, so both give the
// same bits. The angle is the f32 product position * inv_freq, as transformers computes it; cos
// and sin of that angle in double, as the reference does (llama3 scaling is already in inv_freq).
#pragma once

#include <cstdint>

namespace llm::cuda {

// The two dims of a pair: (2j, 2j+1) interleaved, (j, j + head_dim/2) half-split.
struct RopePair {
  int64_t first, second;
};

// Rotates pair j of the head at `head` (head_dim floats) in place; returns the dims it rotated.
__device__ __forceinline__ RopePair rope_rotate_pair(float* head, int64_t head_dim, int64_t j, int32_t position,
                                                 const float* inv_freq, bool interleaved) {
  const int64_t half = head_dim / 2;
  const float angle = __fmul_rn(static_cast<float>(position), inv_freq[j]);
  double sin_angle, cos_angle;
  sincos(static_cast<double>(angle), &sin_angle, &cos_angle);
  const float cos_f = static_cast<float>(cos_angle), sin_f = static_cast<float>(sin_angle);
  const int64_t first = interleaved ? 2 * j : j;
  const int64_t second = interleaved ? 2 * j + 1 : j + half;
  const double x0 = head[first], x1 = head[second];
  head[first] = static_cast<float>(x0 * cos_f - x1 * sin_f);
  head[second] = static_cast<float>(x0 * sin_f + x1 * cos_f);
  return RopePair{first, second};
}

}  // namespace llm::cuda
