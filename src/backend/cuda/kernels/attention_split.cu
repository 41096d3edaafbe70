// Paged attention, split-K flash decoding. One block of 4 warps per (query row, group of query
// heads sharing a KV head, key split): each K/V row is loaded once for all heads of the group
// (GQA). Keys of the split are dealt to the warps 4 at a time; each warp keeps an online softmax
// (running max m, sum l, unnormalised output acc) per head, lane owning the consecutive head dims
// [lane x d, lane x d + d) for d = ceil(head_dim / 32), so a K or V row is one vector load per
// lane when head_dim is 32 d; warps merge through shared memory at the end. With several splits each
// writes its normalised partial (o, m, l) and a second kernel merges them. Works for any number
// of query rows per sequence (chunked prefill too); a tensor-core kernel is the fast path for
// long prefills.
#include <cfloat>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/attention_common.cuh"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/early_launch.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

constexpr int kWarps = 4;
// Keys one warp has in flight. 8 ran slower at 64 sequences (register pressure at 4 heads a block).
constexpr int kKeysPerStep = 4;

// kDims consecutive elements, loaded with the widest aligned vector loads (at most 16 bytes each).
template <typename T, int kDims>
struct alignas(sizeof(T) * kDims <= 16 ? sizeof(T) * kDims : 16) Pack {
  T values[kDims];
};

// Lane `lane`'s dims of a K/V (or q) row: [lane x kDims, lane x kDims + kDims) as floats, zeros past
// head_dim or for an invalid row. `whole` (head_dim == 32 kDims, row starts aligned): one vector load.
template <typename T, int kDims>
__device__ __forceinline__ void load_lane_dims(const T* row, int lane, int64_t head_dim, bool valid, bool whole,
                                               float (&out)[kDims]) {
  if (valid && whole) {
    const Pack<T, kDims> pack = *reinterpret_cast<const Pack<T, kDims>*>(row + lane * kDims);
#pragma unroll
    for (int e = 0; e < kDims; ++e) out[e] = to_float<T>(pack.values[e]);
    return;
  }
#pragma unroll
  for (int e = 0; e < kDims; ++e) {
    const int64_t d = lane * kDims + e;
    out[e] = (valid && d < head_dim) ? to_float<T>(row[d]) : 0.0f;
  }
}

// partials: [n_splits, n, n_heads, head_dim + 2] (o normalised, then m, l).
template <typename T, int kDimsPerLane, int kMaxHeads>
__global__ void __launch_bounds__(kWarps * 32)
    attention_split_kernel(PagedAttentionArgs a, int heads_per_block, float* partials, bool skip_uniform_tiles) {
  wait_for_prior_kernels();
  allow_next_kernels();
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t i = blockIdx.x, split = blockIdx.z, n_splits = gridDim.z;
  // Rows of tiles the tensor-core prefill kernel serves (same test there, so they agree).
  if (skip_uniform_tiles && tile_is_uniform(a, i / kPrefillTileRows * kPrefillTileRows)) return;
  const int64_t head0 = static_cast<int64_t>(blockIdx.y) * heads_per_block;
  const int64_t group = a.n_heads / a.n_kv_heads;
  const int64_t kv_head = head0 / group;
  const int64_t D = a.head_dim;
  const int64_t s = sequence_of_row(a.query_start, a.n_seqs, i);
  const int64_t context = static_cast<int64_t>(a.positions[i]) + 1;
  // The row's own keys dealt evenly to the splits (the grid is sized for the longest context a
  // recorded step may see; a short one still spreads over all of them).
  const int64_t keys_per_split = (context + n_splits - 1) / n_splits;
  const int64_t t_begin = split * keys_per_split;
  const int64_t t_end = min(context, t_begin + keys_per_split);
  const T* k_cache = static_cast<const T*>(a.k_cache);
  const T* v_cache = static_cast<const T*>(a.v_cache);
  const int32_t* table = a.block_tables + s * a.max_blocks_per_seq;

  // Whole-vector rows: head_dim fills the lanes exactly and the caches start aligned (rows of
  // 32 x kDimsPerLane elements then keep the alignment).
  constexpr int kPackBytes = alignof(Pack<T, kDimsPerLane>);
  const bool whole = D == 32 * kDimsPerLane && reinterpret_cast<uintptr_t>(k_cache) % kPackBytes == 0 &&
                     reinterpret_cast<uintptr_t>(v_cache) % kPackBytes == 0;
  const bool whole_q =
      D == 32 * kDimsPerLane && reinterpret_cast<uintptr_t>(a.q) % alignof(Pack<float, kDimsPerLane>) == 0;
  float q[kMaxHeads][kDimsPerLane];
#pragma unroll
  for (int h = 0; h < kMaxHeads; ++h) {
    load_lane_dims<float, kDimsPerLane>(a.q + (i * a.n_heads + head0 + h) * D, lane, D, h < heads_per_block, whole_q,
                                        q[h]);
  }
  float m[kMaxHeads], l[kMaxHeads], acc[kMaxHeads][kDimsPerLane];
#pragma unroll
  for (int h = 0; h < kMaxHeads; ++h) {
    m[h] = -INFINITY;
    l[h] = 0.0f;
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) acc[h][e] = 0.0f;
  }

  for (int64_t t = t_begin + warp * kKeysPerStep; t < t_end; t += kWarps * kKeysPerStep) {
    int64_t base[kKeysPerStep];
    bool valid[kKeysPerStep];
#pragma unroll
    for (int u = 0; u < kKeysPerStep; ++u) {
      const int64_t position = t + u;
      const int64_t block_index = position / a.block_size;
      const int64_t block = (position < t_end && block_index < a.max_blocks_per_seq) ? table[block_index] : -1;
      valid[u] = block >= 0 && block < a.n_blocks;
      base[u] = valid[u] ? ((block * a.block_size + position % a.block_size) * a.n_kv_heads + kv_head) * D : 0;
    }
    // K and V rows issued together: the loop is bound by memory latency, not arithmetic.
    float k[kKeysPerStep][kDimsPerLane], v[kKeysPerStep][kDimsPerLane];
#pragma unroll
    for (int u = 0; u < kKeysPerStep; ++u) {
      load_lane_dims<T, kDimsPerLane>(k_cache + base[u], lane, D, valid[u], whole, k[u]);
      load_lane_dims<T, kDimsPerLane>(v_cache + base[u], lane, D, valid[u], whole, v[u]);
    }
    float score[kMaxHeads][kKeysPerStep];
#pragma unroll
    for (int h = 0; h < kMaxHeads; ++h) {
#pragma unroll
      for (int u = 0; u < kKeysPerStep; ++u) {
        float dot = 0.0f;
#pragma unroll
        for (int e = 0; e < kDimsPerLane; ++e) dot += q[h][e] * k[u][e];
#pragma unroll
        for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
        score[h][u] = valid[u] ? dot * a.scale : -INFINITY;
      }
    }
#pragma unroll
    for (int h = 0; h < kMaxHeads; ++h) {
      float step_max = m[h];
#pragma unroll
      for (int u = 0; u < kKeysPerStep; ++u) step_max = fmaxf(step_max, score[h][u]);
      if (step_max == -INFINITY) continue;  // no valid key yet
      const float correction = expf(m[h] - step_max);
      float p[kKeysPerStep];
      float p_sum = 0.0f;
#pragma unroll
      for (int u = 0; u < kKeysPerStep; ++u) {
        p[u] = expf(score[h][u] - step_max);
        p_sum += p[u];
      }
      l[h] = l[h] * correction + p_sum;
      m[h] = step_max;
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) {
        float value = acc[h][e] * correction;
#pragma unroll
        for (int u = 0; u < kKeysPerStep; ++u) value += p[u] * v[u][e];
        acc[h][e] = value;
      }
    }
  }

  // Merge the warps: shared [kWarps][kMaxHeads] m and l, [kWarps][kMaxHeads][32 * kDimsPerLane] acc.
  __shared__ float shared_m[kWarps][kMaxHeads], shared_l[kWarps][kMaxHeads];
  __shared__ float shared_acc[kWarps][kMaxHeads][32 * kDimsPerLane];
#pragma unroll
  for (int h = 0; h < kMaxHeads; ++h) {
    if (lane == 0) {
      shared_m[warp][h] = m[h];
      shared_l[warp][h] = l[h];
    }
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) shared_acc[warp][h][lane * kDimsPerLane + e] = acc[h][e];
  }
  __syncthreads();
  for (int index = threadIdx.x; index < heads_per_block * D; index += kWarps * 32) {
    const int h = index / static_cast<int>(D);
    const int d = index % static_cast<int>(D);
    float total_max = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total_max = fmaxf(total_max, shared_m[w][h]);
    float total_l = 0.0f, total_acc = 0.0f;
    if (total_max != -INFINITY) {
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        const float weight = shared_m[w][h] == -INFINITY ? 0.0f : expf(shared_m[w][h] - total_max);
        total_l += weight * shared_l[w][h];
        total_acc += weight * shared_acc[w][h][d];
      }
    }
    const float o = total_l > 0.0f ? total_acc / total_l : 0.0f;
    const int64_t head = head0 + h;
    if (n_splits == 1) {
      a.out[(i * a.n_heads + head) * D + d] = total_l > 0.0f ? o : __int_as_float(0x7fc00000);
    } else {
      float* partial = partials + ((split * a.n + i) * a.n_heads + head) * (D + 2);
      partial[d] = o;
      if (d == 0) {
        partial[D] = total_max;
        partial[D + 1] = total_l;
      }
    }
  }
}

// out[i, h, :] = sum_z w_z o_z / sum_z w_z with w_z = l_z exp(m_z - max m).  One block per (row, head).
__global__ void attention_merge_kernel(const float* partials, int64_t n_splits, int64_t n, int64_t n_heads,
                                       int64_t D, float* out) {
  wait_for_prior_kernels();
  allow_next_kernels();
  const int64_t i = blockIdx.x, head = blockIdx.y;
  auto partial = [&](int64_t split) { return partials + ((split * n + i) * n_heads + head) * (D + 2); };
  float total_max = -INFINITY;
  for (int64_t z = 0; z < n_splits; ++z) total_max = fmaxf(total_max, partial(z)[D]);
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float total_w = 0.0f, total_o = 0.0f;
    for (int64_t z = 0; z < n_splits; ++z) {
      const float* p = partial(z);
      if (p[D] == -INFINITY) continue;
      const float w = p[D + 1] * expf(p[D] - total_max);
      total_w += w;
      total_o += w * p[d];
    }
    out[(i * n_heads + head) * D + d] = total_w > 0.0f ? total_o / total_w : __int_as_float(0x7fc00000);
  }
}

template <typename T, int kDimsPerLane>
void launch_for_dims(const PagedAttentionArgs& a, int heads_per_block, dim3 grid, float* partials, bool skip,
                     cudaStream_t stream) {
  if (heads_per_block == 1) {
    launch_early(attention_split_kernel<T, kDimsPerLane, 1>, grid, kWarps * 32, stream, a, 1, partials, skip);
  } else if (heads_per_block == 2) {
    launch_early(attention_split_kernel<T, kDimsPerLane, 2>, grid, kWarps * 32, stream, a, 2, partials, skip);
  } else if (heads_per_block <= 4) {
    launch_early(attention_split_kernel<T, kDimsPerLane, 4>, grid, kWarps * 32, stream, a, heads_per_block, partials,
                 skip);
  } else {
    launch_early(attention_split_kernel<T, kDimsPerLane, 8>, grid, kWarps * 32, stream, a, heads_per_block, partials,
                 skip);
  }
}

template <typename T>
void launch_for_type(const PagedAttentionArgs& a, int heads_per_block, dim3 grid, float* partials, bool skip,
                     cudaStream_t stream) {
  if (a.head_dim <= 32) {
    launch_for_dims<T, 1>(a, heads_per_block, grid, partials, skip, stream);
  } else if (a.head_dim <= 64) {
    launch_for_dims<T, 2>(a, heads_per_block, grid, partials, skip, stream);
  } else if (a.head_dim <= 128) {
    launch_for_dims<T, 4>(a, heads_per_block, grid, partials, skip, stream);
  } else {
    launch_for_dims<T, 8>(a, heads_per_block, grid, partials, skip, stream);
  }
}

// Largest divisor of the group size that is at most 8: the query heads one block serves.
int heads_per_block_for(const PagedAttentionArgs& a) {
  const int64_t group = a.n_heads / a.n_kv_heads;
  for (int h = 8; h > 1; --h) {
    if (group % h == 0) return h;
  }
  return 1;
}

int64_t max_context(const PagedAttentionArgs& a) { return std::max<int64_t>(1, a.max_blocks_per_seq * a.block_size); }

}  // namespace

int64_t attention_split_count(const PagedAttentionArgs& a, int sm_count) {
  // Enough blocks for four per SM (the keys' loads in flight are what the loop waits on), but no
  // split shorter than 64 keys of the longest context.
  const int64_t blocks = a.n * (a.n_heads / heads_per_block_for(a));
  const int64_t wanted = (4 * static_cast<int64_t>(sm_count) + blocks - 1) / blocks;
  const int64_t most = std::max<int64_t>(1, max_context(a) / 64);
  return std::clamp<int64_t>(wanted, 1, std::min<int64_t>(most, 64));
}

void launch_paged_attention_split(const PagedAttentionArgs& a, int64_t n_splits, float* partials,
                                  bool skip_uniform_tiles, cudaStream_t stream) {
  const bool skip = skip_uniform_tiles;
  if (a.n == 0) return;
  LLM_CHECK(a.head_dim <= 256, "paged attention: head_dim ", a.head_dim, ", at most 256");
  const int heads_per_block = heads_per_block_for(a);
  const dim3 grid(static_cast<unsigned>(a.n), static_cast<unsigned>(a.n_heads / heads_per_block),
                  static_cast<unsigned>(n_splits));
  with_float_type(a.cache_dtype, "paged attention", [&]<typename T>(T) {
    launch_for_type<T>(a, heads_per_block, grid, partials, skip, stream);
  });
  check_launch("paged_attention_split");
  if (n_splits > 1) {
    launch_early(attention_merge_kernel, dim3(static_cast<unsigned>(a.n), static_cast<unsigned>(a.n_heads)), 128, stream,
                 static_cast<const float*>(partials), n_splits, a.n, a.n_heads, a.head_dim, a.out);
    check_launch("paged_attention_merge");
  }
}

}  // namespace llm::cuda
