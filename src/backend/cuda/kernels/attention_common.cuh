// Device helpers shared by the two paged-attention kernels.
#pragma once

#include <cstdint>

#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {

// Query rows per tile of the tensor-core prefill kernel.
inline constexpr int kPrefillTileRows = 64;

// The s with query_start[s] <= row < query_start[s + 1]. query_start i32 [n_seqs + 1].
__device__ __forceinline__ int64_t sequence_of_row(const int32_t* query_start, int64_t n_seqs, int64_t row) {
  int64_t low = 0, high = n_seqs;  // query_start[low] <= row < query_start[high]
  while (high - low > 1) {
    const int64_t middle = (low + high) / 2;
    if (query_start[middle] <= row) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return low;
}

// Whether the prefill tile starting at row0 lies within one sequence (then the tensor-core
// kernel serves it; otherwise the split kernel does, row by row).
__device__ __forceinline__ bool tile_is_uniform(const PagedAttentionArgs& a, int64_t row0) {
  const int64_t last = (row0 + kPrefillTileRows < a.n ? row0 + kPrefillTileRows : a.n) - 1;
  return sequence_of_row(a.query_start, a.n_seqs, row0) == sequence_of_row(a.query_start, a.n_seqs, last);
}

}  // namespace llm::cuda
