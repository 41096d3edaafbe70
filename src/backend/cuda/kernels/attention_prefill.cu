// Paged attention for prefill and chunked prefill on tensor cores (WMMA, f16 operands, f32
// accumulation): a flash-attention tile of 64 query rows x one head per block of 4 warps, each
// warp owning 16 rows. K/V tiles of 64 keys are gathered through the block table into shared
// memory as f16 (whatever the cache dtype); S = Q K^T and O += P V run on tensor cores; the
// online softmax (running max and sum per row) runs on the f32 scores in shared memory. O lives in
// shared memory because WMMA's accumulator layout is opaque and each row needs its own rescale.
// A tile whose 64 rows do not all belong to one sequence is left to the split kernel
// (attention_split.cu skips rows of uniform tiles when told to), so both agree on the split.
#include <mma.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/attention_common.cuh"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

using namespace nvcuda;

constexpr int kRows = kPrefillTileRows;  // query rows per block
constexpr int kKeys = 64;                // keys per tile
constexpr int kWarps = 4;                // 16 rows each
constexpr int kPad = 8;                  // f16 row padding: breaks shared-memory bank conflicts

template <int D>
struct Smem {
  static constexpr int kLd = D + kPad;  // f16 leading dimension of Q, K, V
  static constexpr int kSLd = kKeys + 4;
  static constexpr int kPLd = kKeys + kPad;
  static constexpr int kOLd = D + 4;
  static constexpr size_t kQ = 0;
  static constexpr size_t kK = kQ + sizeof(__half) * kRows * kLd;
  static constexpr size_t kV = kK + sizeof(__half) * kKeys * kLd;
  static constexpr size_t kS = kV + sizeof(__half) * kKeys * kLd;
  static constexpr size_t kP = kS + sizeof(float) * kRows * kSLd;
  static constexpr size_t kO = kP + sizeof(__half) * kRows * kPLd;
  static constexpr size_t kScale = kO + sizeof(float) * kRows * kOLd;
  static constexpr size_t kBytes = kScale + sizeof(float) * kRows;
};

template <typename T, int D>
__global__ void __launch_bounds__(kWarps * 32) attention_prefill_kernel(PagedAttentionArgs a) {
  using L = Smem<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  __half* q_tile = reinterpret_cast<__half*>(smem + L::kQ);  // [kRows, kLd]
  __half* k_tile = reinterpret_cast<__half*>(smem + L::kK);  // [kKeys, kLd]
  __half* v_tile = reinterpret_cast<__half*>(smem + L::kV);  // [kKeys, kLd]
  float* s_tile = reinterpret_cast<float*>(smem + L::kS);    // [kRows, kSLd]
  __half* p_tile = reinterpret_cast<__half*>(smem + L::kP);  // [kRows, kPLd]
  float* o_tile = reinterpret_cast<float*>(smem + L::kO);    // [kRows, kOLd]
  float* row_scale = reinterpret_cast<float*>(smem + L::kScale);  // [kRows]

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kRows;
  const int64_t head = blockIdx.y;
  const int64_t kv_head = head / (a.n_heads / a.n_kv_heads);
  if (!tile_is_uniform(a, row0)) return;  // the split kernel serves this tile
  const int64_t rows_here = a.n - row0 < kRows ? a.n - row0 : kRows;
  const int64_t s = sequence_of_row(a.query_start, a.n_seqs, row0);
  const int32_t* table = a.block_tables + s * a.max_blocks_per_seq;
  const T* k_cache = static_cast<const T*>(a.k_cache);
  const T* v_cache = static_cast<const T*>(a.v_cache);

  // Q tile as f16 (scaled by the softmax scale later, in f32), O = 0.
  for (int index = threadIdx.x; index < kRows * D; index += kWarps * 32) {
    const int r = index / D, d = index % D;
    const float value = r < rows_here ? a.q[((row0 + r) * a.n_heads + head) * D + d] : 0.0f;
    q_tile[r * L::kLd + d] = __float2half_rn(value);
    o_tile[r * L::kOLd + d] = 0.0f;
  }
  // Keys needed: 0 .. the largest position in the tile.
  int32_t last_position = 0;
  for (int r = 0; r < rows_here; ++r) last_position = max(last_position, a.positions[row0 + r]);
  const int64_t n_keys = static_cast<int64_t>(last_position) + 1;

  // Per-row softmax state: lanes 2r' and 2r'+1 of a warp share row 16 * warp + r'; each holds
  // the same m and l.
  const int my_row = warp * 16 + lane / 2;
  const int half_lane = lane % 2;
  const int32_t my_position = my_row < rows_here ? a.positions[row0 + my_row] : -1;
  float m = -INFINITY, l = 0.0f;
  __syncthreads();

  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> q_frag[D / 16];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) wmma::load_matrix_sync(q_frag[kk], q_tile + warp * 16 * L::kLd + kk * 16, L::kLd);

  for (int64_t key0 = 0; key0 < n_keys; key0 += kKeys) {
    // Gather the K and V tile through the block table; keys past n_keys or in a bad block are 0
    // (their scores are masked below).
    for (int index = threadIdx.x; index < kKeys * (D / 2); index += kWarps * 32) {
      const int key = index / (D / 2), d = 2 * (index % (D / 2));
      const int64_t t = key0 + key;
      const int64_t block_index = t / a.block_size;
      const int64_t block = (t < n_keys && block_index < a.max_blocks_per_seq) ? table[block_index] : -1;
      float2 kv_k = make_float2(0.0f, 0.0f), kv_v = make_float2(0.0f, 0.0f);
      if (block >= 0 && block < a.n_blocks) {
        const int64_t base = ((block * a.block_size + t % a.block_size) * a.n_kv_heads + kv_head) * D + d;
        kv_k = make_float2(to_float<T>(k_cache[base]), to_float<T>(k_cache[base + 1]));
        kv_v = make_float2(to_float<T>(v_cache[base]), to_float<T>(v_cache[base + 1]));
      }
      *reinterpret_cast<__half2*>(k_tile + key * L::kLd + d) = __float22half2_rn(kv_k);
      *reinterpret_cast<__half2*>(v_tile + key * L::kLd + d) = __float22half2_rn(kv_v);
    }
    __syncthreads();

    // S [16 rows of this warp, 64 keys] = Q K^T.
#pragma unroll
    for (int j = 0; j < kKeys / 16; ++j) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> s_frag;
      wmma::fill_fragment(s_frag, 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> k_frag;
        wmma::load_matrix_sync(k_frag, k_tile + j * 16 * L::kLd + kk * 16, L::kLd);
        wmma::mma_sync(s_frag, q_frag[kk], k_frag, s_frag);
      }
      wmma::store_matrix_sync(s_tile + warp * 16 * L::kSLd + j * 16, s_frag, L::kSLd, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax on this lane's half row (32 keys), then P as f16.
    {
      float* s_row = s_tile + my_row * L::kSLd + half_lane * 32;
      __half* p_row = p_tile + my_row * L::kPLd + half_lane * 32;
      float tile_max = -INFINITY;
#pragma unroll 8
      for (int c = 0; c < 32; ++c) {
        const int64_t t = key0 + half_lane * 32 + c;
        const float score = t <= my_position ? s_row[c] * a.scale : -INFINITY;
        s_row[c] = score;
        tile_max = fmaxf(tile_max, score);
      }
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
      const float m_new = fmaxf(m, tile_max);
      const float correction = m_new == -INFINITY ? 1.0f : expf(m - m_new);
      float sum = 0.0f;
#pragma unroll 8
      for (int c = 0; c < 32; ++c) {
        const float p = m_new == -INFINITY ? 0.0f : expf(s_row[c] - m_new);
        sum += p;
        p_row[c] = __float2half_rn(p);
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      l = l * correction + sum;
      m = m_new;
      // Rescale this lane's half of the row's O.
      float* o_row = o_tile + my_row * L::kOLd + half_lane * (D / 2);
#pragma unroll 8
      for (int d = 0; d < D / 2; ++d) o_row[d] *= correction;
    }
    __syncwarp();

    // O [16, D] += P [16, 64] V [64, D].
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> p_frag[kKeys / 16];
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) wmma::load_matrix_sync(p_frag[kk], p_tile + warp * 16 * L::kPLd + kk * 16, L::kPLd);
#pragma unroll
    for (int j = 0; j < D / 16; ++j) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> o_frag;
      float* o_at = o_tile + warp * 16 * L::kOLd + j * 16;
      wmma::load_matrix_sync(o_frag, o_at, L::kOLd, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kKeys / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> v_frag;
        wmma::load_matrix_sync(v_frag, v_tile + kk * 16 * L::kLd + j * 16, L::kLd);
        wmma::mma_sync(o_frag, p_frag[kk], v_frag, o_frag);
      }
      wmma::store_matrix_sync(o_at, o_frag, L::kOLd, wmma::mem_row_major);
    }
    __syncthreads();  // K/V tiles are overwritten next
  }

  if (half_lane == 0) row_scale[my_row] = l > 0.0f ? 1.0f / l : __int_as_float(0x7fc00000);
  __syncthreads();
  for (int index = threadIdx.x; index < kRows * D; index += kWarps * 32) {
    const int r = index / D, d = index % D;
    if (r < rows_here) a.out[((row0 + r) * a.n_heads + head) * D + d] = o_tile[r * L::kOLd + d] * row_scale[r];
  }
}

template <typename T, int D>
void launch_typed(const PagedAttentionArgs& a, cudaStream_t stream) {
  const size_t bytes = Smem<D>::kBytes;
  check_cuda(cudaFuncSetAttribute(attention_prefill_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(bytes)),
             "cudaFuncSetAttribute(attention_prefill)");
  const dim3 grid(static_cast<unsigned>((a.n + kRows - 1) / kRows), static_cast<unsigned>(a.n_heads));
  attention_prefill_kernel<T, D><<<grid, kWarps * 32, bytes, stream>>>(a);
}

template <int D>
void launch_dim(const PagedAttentionArgs& a, cudaStream_t stream) {
  switch (a.cache_dtype) {
    case DType::kF32: launch_typed<float, D>(a, stream); break;
    case DType::kF16: launch_typed<__half, D>(a, stream); break;
    case DType::kBF16: launch_typed<__nv_bfloat16, D>(a, stream); break;
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: LLM_CHECK(false, "paged attention: cache dtype ", dtype_name(a.cache_dtype));
  }
}

}  // namespace

bool prefill_attention_supported(const PagedAttentionArgs& a) {
  return a.n >= kRows && (a.head_dim == 64 || a.head_dim == 128);
}

void launch_paged_attention_prefill(const PagedAttentionArgs& a, cudaStream_t stream) {
  if (a.head_dim == 64) {
    launch_dim<64>(a, stream);
  } else {
    launch_dim<128>(a, stream);
  }
  check_launch("paged_attention_prefill");
}

}  // namespace llm::cuda
