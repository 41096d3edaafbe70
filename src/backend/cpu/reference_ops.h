// Scalar reference kernels: the plain loops, single-threaded, f32 in and out with double
// accumulation where it makes the result closer to exact. They are the truth the fast CPU
// kernels and every other backend are tested against, so they favour clarity over speed.
// Shapes and dtypes were checked by Backend's public wrappers (backend.cpp); these functions
// assume valid views and LLM_CHECK only what the wrappers cannot see (ids, slots, block tables).
#pragma once

#include "backend/backend.h"

namespace llm {

// out[i, :] = float(table[ids[i], :]).  table [vocab, dim] any dtype; ids i32 [n]; out f32 [n, dim].
void reference_embedding(TensorView table, TensorView ids, TensorView out, int64_t first_row);

// out = x * rsqrt(mean(x^2) + eps) * weight.  x, out f32 [n, dim]; weight [dim] f32 | f16 | bf16.
void reference_rms_norm(TensorView x, TensorView weight, float eps, TensorView out);

// out = x @ weight^T.  x f32 [n, k]; weight [m, k] any dtype; out f32 [n, m].
void reference_linear(TensorView x, TensorView weight, TensorView out);

// x f32 [n, n_heads, head_dim] rotated in place; positions i32 [n]; inv_freq f32 [head_dim / 2].
void reference_rope(TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout);

// k, v f32 [n, n_kv_heads, head_dim] -> cache slots; slots i32 [n].
void reference_kv_write(TensorView k, TensorView v, KvCacheView cache, TensorView slots);

// q, out f32 [n, n_heads, head_dim]; cache [n_blocks, block_size, n_kv_heads, head_dim].
void reference_paged_attention(TensorView q, KvCacheView cache, const AttentionBatch& batch, TensorView out);

// out = silu(gate) * up.  All f32 [n, f].
void reference_silu_mul(TensorView gate, TensorView up, TensorView out);

// out = a + b.  All f32, same shape.
void reference_add(TensorView a, TensorView b, TensorView out);

// out[i, :] = x[rows[i], :].  x f32 [n, d]; rows i32 [m]; out f32 [m, d].
void reference_gather_rows(TensorView x, TensorView rows, TensorView out);

// Angle of RoPE pair j at `position`, and its cos/sin, computed the way Hugging Face transformers
// does (f32 product position * inv_freq, then cos/sin of that f32 angle). Shared by the reference
// and the fast kernel so both agree bit for bit on the rotation.
struct RopeRotation {
  float cos;
  float sin;
};
RopeRotation rope_rotation(int32_t position, float inv_freq);

// Index of the sequence that owns query row `row`: the s with query_start[s] <= row < query_start[s+1].
// query_start i32 [n_seqs + 1].
int64_t sequence_of_row(const int32_t* query_start, int64_t n_seqs, int64_t row);

}  // namespace llm
