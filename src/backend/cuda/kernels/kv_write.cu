// Paged-KV write: one block per token row, threads over the row's n_kv_heads * head_dim elements.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

// k, v f32 [n, row_elements]; caches [n_slots, row_elements].
template <typename T>
__global__ void kv_write_rows(const float* k, const float* v, int64_t row_elements, const int32_t* slots,
                              int64_t n_slots, T* k_cache, T* v_cache) {
  const int64_t i = blockIdx.x;
  const int64_t slot = slots[i];
  if (slot < 0 || slot >= n_slots) return;  // a caller bug; never write outside the pool
  for (int64_t e = threadIdx.x; e < row_elements; e += blockDim.x) {
    k_cache[slot * row_elements + e] = from_float<T>(k[i * row_elements + e]);
    v_cache[slot * row_elements + e] = from_float<T>(v[i * row_elements + e]);
  }
}

}  // namespace

void launch_kv_write(const float* k, const float* v, int64_t n, int64_t row_elements, const int32_t* slots,
                     int64_t n_slots, void* k_cache, void* v_cache, DType cache_dtype, cudaStream_t stream) {
  if (n == 0) return;
  with_float_type(cache_dtype, "kv_write", [&]<typename T>(T) {
    kv_write_rows<<<n, 256, 0, stream>>>(k, v, row_elements, slots, n_slots, static_cast<T*>(k_cache),
                                         static_cast<T*>(v_cache));
  });
  check_launch("kv_write");
}

}  // namespace llm::cuda
