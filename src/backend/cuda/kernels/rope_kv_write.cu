// RoPE of q and k and the paged-KV write of k and v in one kernel: one thread per item of a
// token row (a q or k pair to rotate, or a v element to store), a grid of (row, item blocks), so a
// decode step's one row spreads over the GPU instead of waiting on one block's loop. A thread that
// rotates a k pair writes the rotated pair to the cache itself, so nothing waits for anything; the
// arithmetic is rope_math.cuh's, the same bits as the separate rope + kv_write.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/early_launch.cuh"
#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/kernels/rope_math.cuh"

namespace llm::cuda {
namespace {

constexpr int kThreads = 256;

// Items of a row: the (n_heads + n_kv_heads) * head_dim / 2 pairs to rotate (q heads first),
// then the n_kv_heads * head_dim v elements to store.
// q f32 [n, n_heads, head_dim], k and v f32 [n, n_kv_heads, head_dim]; caches [n_slots, n_kv_heads * head_dim].
template <typename T>
__global__ void __launch_bounds__(kThreads) rope_kv_write_items(RopeKvWriteArgs a, T* k_cache, T* v_cache) {
  wait_for_prior_kernels();
  allow_next_kernels();
  const int64_t row = blockIdx.x;
  const int64_t item = static_cast<int64_t>(blockIdx.y) * kThreads + threadIdx.x;
  const int64_t half = a.head_dim / 2, row_elements = a.n_kv_heads * a.head_dim;
  const int64_t pairs = (a.n_heads + a.n_kv_heads) * half;
  if (item >= pairs + row_elements) return;
  const int64_t slot = a.slots[row];
  const bool slot_valid = slot >= 0 && slot < a.n_slots;  // a caller bug otherwise; never write outside the pool
  if (item >= pairs) {
    const int64_t e = item - pairs;
    if (slot_valid) v_cache[slot * row_elements + e] = from_float<T>(a.v[row * row_elements + e]);
    return;
  }
  const int32_t position = a.positions[row];
  const int64_t head = item / half, j = item % half;
  if (head < a.n_heads) {
    rope_rotate_pair(a.q + (row * a.n_heads + head) * a.head_dim, a.head_dim, j, position, a.inv_freq, a.interleaved);
    return;
  }
  const int64_t kv_head = head - a.n_heads;
  float* k_head = a.k + row * row_elements + kv_head * a.head_dim;
  const RopePair pair = rope_rotate_pair(k_head, a.head_dim, j, position, a.inv_freq, a.interleaved);
  if (slot_valid) {
    T* cached = k_cache + slot * row_elements + kv_head * a.head_dim;
    cached[pair.first] = from_float<T>(k_head[pair.first]);
    cached[pair.second] = from_float<T>(k_head[pair.second]);
  }
}

}  // namespace

void launch_rope_kv_write(const RopeKvWriteArgs& args, void* k_cache, void* v_cache, DType cache_dtype,
                          cudaStream_t stream) {
  if (args.n == 0) return;
  const int64_t items = (args.n_heads + args.n_kv_heads) * (args.head_dim / 2) + args.n_kv_heads * args.head_dim;
  const dim3 grid(static_cast<unsigned>(args.n), static_cast<unsigned>((items + kThreads - 1) / kThreads));
  with_float_type(cache_dtype, "rope_kv_write", [&]<typename T>(T) {
    launch_early(rope_kv_write_items<T>, grid, kThreads, stream, args, static_cast<T*>(k_cache), static_cast<T*>(v_cache));
  });
  check_launch("rope_kv_write");
}

}  // namespace llm::cuda
