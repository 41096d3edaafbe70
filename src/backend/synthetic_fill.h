// Random weights defined by position, so that any device can make any block of a tensor itself
// (`llama bench --synthetic`: no file, and nothing generated on the host or copied over PCIe).
// Value i of a tensor depends only on the tensor's stream state and i: splitmix64 is a counter
// generator, so its output number i + 1 from `state` is mix(state + (i + 1) x increment).
// Shared by the host (CPU backend, tests) and device (CUDA kernel) code: the same bits on both.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define LLM_HOST_DEVICE __host__ __device__
#else
#define LLM_HOST_DEVICE
#endif

namespace llm {

struct SyntheticFill {
  uint64_t state = 0;  // the tensor's stream
  float scale = 1.0f;  // uniform in [-sqrt(3) scale, sqrt(3) scale]: variance scale^2
  bool ones = false;   // every value 1 (norm weights)
  // The block being made: its element [r, c] is value (row0 + r) x columns + col0 + c of the
  // tensor, whose rows hold `columns` values (a 1-D block is one row).
  int64_t row0 = 0, col0 = 0, columns = 0;
};

inline constexpr uint64_t kSplitMixIncrement = 0x9e3779b97f4a7c15ull;

LLM_HOST_DEVICE inline uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Value `index` of the tensor described by `fill` (row0, col0 and columns are not used here).
LLM_HOST_DEVICE inline float synthetic_value(const SyntheticFill& fill, int64_t index) {
  if (fill.ones) return 1.0f;
  const uint64_t bits = splitmix64_mix(fill.state + static_cast<uint64_t>(index + 1) * kSplitMixIncrement);
  // 53 random bits -> [0, 1) exactly in double, then [-1, 1); the product in f32 on both sides.
  const float u = static_cast<float>(static_cast<double>(bits >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  return u * fill.scale * 1.7320508f;
}

}  // namespace llm
