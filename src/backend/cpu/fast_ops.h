// Fast CPU kernels: threads from the backend's pool, SIMD through the SimdKernels table.
// Same contracts as reference_ops.h (and tested against it); shapes were checked by backend.cpp.
#pragma once

#include "backend/backend.h"
#include "backend/cpu/simd.h"
#include "util/thread_pool.h"

namespace llm {

// What every fast kernel runs with. Tests build one with the portable table to check it too.
struct CpuKernelContext {
  ThreadPool& pool;
  const SimdKernels& simd;
};

// Below this many input rows linear streams each weight row once and dots it with every input
// row (decode: memory-bound); from it on it converts weight panels once and runs the register-
// tiled GEMM over all rows (prefill: compute-bound).
inline constexpr int64_t kLinearTiledMinRows = 4;

void fast_embedding(const CpuKernelContext& ctx, TensorView table, TensorView ids, TensorView out,
                    int64_t first_row);
void fast_rms_norm(const CpuKernelContext& ctx, TensorView x, TensorView weight, float eps, TensorView out);
void fast_linear(const CpuKernelContext& ctx, TensorView x, TensorView weight, TensorView out);
void fast_rope(const CpuKernelContext& ctx, TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout);
void fast_kv_write(const CpuKernelContext& ctx, TensorView k, TensorView v, KvCacheView cache, TensorView slots);
void fast_paged_attention(const CpuKernelContext& ctx, TensorView q, KvCacheView cache, const AttentionBatch& batch,
                          TensorView out);
void fast_silu_mul(const CpuKernelContext& ctx, TensorView gate, TensorView up, TensorView out);
void fast_add(const CpuKernelContext& ctx, TensorView a, TensorView b, TensorView out);
void fast_gather_rows(const CpuKernelContext& ctx, TensorView x, TensorView rows, TensorView out);

// Converts `n` elements of a row of `dtype` starting at element `first` (a multiple of the block
// size, as is n unless the row ends) to f32: SIMD for bf16/f16, memcpy for f32, dequantize_row
// otherwise. row points at element 0 of the row.
void convert_row_to_f32(const SimdKernels& simd, DType dtype, const void* row, int64_t first, int64_t n, float* dst);

}  // namespace llm
