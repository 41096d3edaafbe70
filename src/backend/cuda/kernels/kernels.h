// Launchers of the CUDA backend's own kernels, one op family per .cu file. Plain C++ signatures
// (raw device pointers, sizes, the stream), so the host code needs no kernel headers. Every
// launcher enqueues on `stream` and returns at once; launch failures are fatal (cuda_check.h).
// Index inputs (ids, slots, block ids) that fall outside their range are skipped rather than
// followed: the kernels never read or write outside their buffers, whatever the indices say.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"
#include "core/dtype.h"

namespace llm::cuda {

// out[i, :] = table[ids[i] - first_row, :] as f32, zeros for ids outside [first_row, first_row + rows).
// table [rows, dim] any dtype; ids i32 [n]; out f32 [n, dim].
void launch_embedding(const void* table, DType dtype, int64_t rows, int64_t dim, const int32_t* ids, int64_t n,
                      int64_t first_row, float* out, cudaStream_t stream);

// out = x * rsqrt(mean(x^2) + eps) * weight.  x f32 [n, dim]; out [n, dim] of out_dtype (f32 | f16 |
// bf16, rounded to nearest even; an f32 out may alias x); weight [dim] f32|f16|bf16.
void launch_rms_norm(const float* x, const void* weight, DType weight_dtype, float eps, int64_t n, int64_t dim,
                     void* out, DType out_dtype, cudaStream_t stream);

// x f32 [n, n_heads, head_dim] rotated in place; positions i32 [n]; inv_freq f32 [head_dim / 2].
void launch_rope(float* x, int64_t n, int64_t n_heads, int64_t head_dim, const int32_t* positions,
                 const float* inv_freq, RopeLayout layout, cudaStream_t stream);

// rope(q), rope(k), then k and v written to the cache at slots[i], in one kernel.
struct RopeKvWriteArgs {
  float* q;                // [n, n_heads, head_dim], rotated in place
  float* k;                // [n, n_kv_heads, head_dim], rotated in place
  const float* v;          // [n, n_kv_heads, head_dim]
  const int32_t* positions;  // [n]
  const float* inv_freq;   // [head_dim / 2]
  const int32_t* slots;    // [n]
  int64_t n, n_heads, n_kv_heads, head_dim;
  int64_t n_slots;         // cache rows: n_blocks * block_size
  bool interleaved;        // RopeLayout::kInterleaved
};
void launch_rope_kv_write(const RopeKvWriteArgs& args, void* k_cache, void* v_cache, DType cache_dtype,
                          cudaStream_t stream);

// k, v f32 [n, row_elements] -> caches [n_slots, row_elements] of cache_dtype at slots[i].
void launch_kv_write(const float* k, const float* v, int64_t n, int64_t row_elements, const int32_t* slots,
                     int64_t n_slots, void* k_cache, void* v_cache, DType cache_dtype, cudaStream_t stream);

// x += residual, then out = rms_norm(x) * weight.  x, residual f32 [n, dim]; out as launch_rms_norm's
// (an f32 out may alias residual).
void launch_add_rms_norm(float* x, const float* residual, const void* weight, DType weight_dtype, float eps, int64_t n,
                         int64_t dim, void* out, DType out_dtype, cudaStream_t stream);

// Elementwise, all f32 [count]; out may alias the inputs.
void launch_silu_mul(const float* gate, const float* up, float* out, int64_t count, cudaStream_t stream);
void launch_add(const float* a, const float* b, float* out, int64_t count, cudaStream_t stream);
// out [n, ffn] = silu(gate) * up in dtype (f16 | bf16); gate and up rows `stride` elements apart
// (gate and up may be the halves of one [n, 2 ffn] product: stride 2 ffn, up = gate + ffn).
void launch_silu_mul_half(const void* gate, const void* up, int64_t stride, int64_t n, int64_t ffn, void* out,
                          DType dtype, cudaStream_t stream);
// out[i, :] = x[rows[i], :].  x f32 [n, d]; rows i32 [m]; out f32 [m, d]; rows outside [0, n) give NaN rows.
void launch_gather_rows(const float* x, int64_t n, int64_t d, const int32_t* rows, int64_t m, float* out,
                        cudaStream_t stream);

// x f32 [count] -> out [count] of out_dtype (f16 | bf16 | f32), round to nearest even.
void launch_convert_from_f32(const float* x, int64_t count, void* out, DType out_dtype, cudaStream_t stream);

// weight [rows, columns] of any dtype -> out [rows, columns] of out_dtype (f32 | f16 | bf16).
void launch_dequantize(const void* weight, DType dtype, int64_t rows, int64_t columns, void* out, DType out_dtype,
                       cudaStream_t stream);

// Matrix-vector products for few rows: out = x @ weight^T with f32 accumulation, each weight
// byte read once for all rows. x f32 [n, k]; weight [m, k] any dtype; out f32 [n, m].
inline constexpr int64_t kGemvMaxRows = 8;
void launch_gemv(const float* x, int64_t n, int64_t k, const void* weight, DType dtype, int64_t m, float* out,
                 cudaStream_t stream);

// out[i] = pick_token(logits[i, :], params[i]) (backend/sampling.h), one block per row, no sort.
// logits f32 [n, vocab], vocab in [1, 2^31); params i32 [n, 6] (TokenSampling records); out i32 [n].
void launch_sample(const float* logits, int64_t n, int64_t vocab, const int32_t* params, int32_t* out,
                   cudaStream_t stream);

// out [rows, columns] of dtype (f32 | f16 | bf16) = the block `fill` describes (backend/synthetic_fill.h).
void launch_fill_synthetic(void* out, DType dtype, int64_t rows, int64_t columns, const SyntheticFill& fill,
                           cudaStream_t stream);

// Paged attention (see AttentionBatch in backend.h). Pointers are device memory.
struct PagedAttentionArgs {
  const float* q;               // [n, n_heads, head_dim]
  const void* k_cache;          // [n_blocks, block_size, n_kv_heads, head_dim] of cache_dtype
  const void* v_cache;          // same
  DType cache_dtype;            // f32 | f16 | bf16
  const int32_t* query_start;   // [n_seqs + 1]
  const int32_t* positions;     // [n]
  const int32_t* block_tables;  // [n_seqs, max_blocks_per_seq]
  float* out;                   // [n, n_heads, head_dim]
  int64_t n, n_heads, n_kv_heads, head_dim;
  int64_t n_blocks, block_size, n_seqs, max_blocks_per_seq;
  float scale;
};

// Split-K flash decoding over block tables, any number of query rows per sequence. `partials`
// holds n_splits * n * n_heads * (head_dim + 2) floats (attention_split_count says how many).
// With skip_uniform_tiles, rows of 64-row tiles within one sequence are left to the prefill kernel.
int64_t attention_split_count(const PagedAttentionArgs& args, int sm_count);
void launch_paged_attention_split(const PagedAttentionArgs& args, int64_t n_splits, float* partials,
                                  bool skip_uniform_tiles, cudaStream_t stream);

// Tensor-core flash attention (mma.sync; bf16 operands for a bf16 cache, f16 for f16 and f32
// caches; f32 accumulation) for the 64-row tiles of a prefill that lie within one sequence;
// head_dim 64 or 128. Pair with the split kernel (skip_uniform_tiles).
bool prefill_attention_supported(const PagedAttentionArgs& args);
void launch_paged_attention_prefill(const PagedAttentionArgs& args, cudaStream_t stream);

}  // namespace llm::cuda
