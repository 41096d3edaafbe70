// Embedding lookup: one block per token row, threads stride over the row's columns.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

// table [rows, dim] dense; out f32 [n, dim].
__global__ void embedding_dense(const void* table, DType dtype, int64_t rows, int64_t dim, const int32_t* ids,
                                int64_t first_row, float* out) {
  const int64_t i = blockIdx.x;
  const int64_t local = static_cast<int64_t>(ids[i]) - first_row;
  const bool owned = local >= 0 && local < rows;  // else a row another vocab-parallel rank holds
  for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
    out[i * dim + j] = owned ? load_dense(table, dtype, local * dim + j) : 0.0f;
  }
}

// A half-precision table whose rows are whole 16-byte vectors: each thread moves 8 elements with
// one load, so a row read from mapped host memory (see Backend::allocate_host_mapped) takes a
// couple of PCIe round trips rather than one per 2-byte element.
template <typename T>
__global__ void embedding_half_vec8(const T* table, int64_t rows, int64_t dim, const int32_t* ids, int64_t first_row,
                                    float* out) {
  const int64_t i = blockIdx.x;
  const int64_t local = static_cast<int64_t>(ids[i]) - first_row;
  const bool owned = local >= 0 && local < rows;
  for (int64_t j = threadIdx.x * 8; j < dim; j += blockDim.x * 8) {
    float values[8] = {};
    if (owned) {
      const uint4 packed = *reinterpret_cast<const uint4*>(table + local * dim + j);
      const T* halves = reinterpret_cast<const T*>(&packed);
#pragma unroll
      for (int l = 0; l < 8; ++l) values[l] = to_float(halves[l]);
    }
    float4* dst = reinterpret_cast<float4*>(out + i * dim + j);
    dst[0] = make_float4(values[0], values[1], values[2], values[3]);
    dst[1] = make_float4(values[4], values[5], values[6], values[7]);
  }
}

// table [rows, dim] quantized: threads take 32-element pieces of the row.
template <DType kType>
__global__ void embedding_quantized(const uint8_t* table, int64_t rows, int64_t dim, const int32_t* ids,
                                    int64_t first_row, float* out) {
  using Traits = QuantTraits<kType>;
  const int64_t i = blockIdx.x;
  const int64_t local = static_cast<int64_t>(ids[i]) - first_row;
  const bool owned = local >= 0 && local < rows;
  const int64_t row_bytes = dim / Traits::kBlockElements * Traits::kBlockBytes;
  for (int64_t piece = threadIdx.x; piece < dim / kPiece; piece += blockDim.x) {
    float values[kPiece];
    if (owned) {
      dequantize_piece<kType>(table + local * row_bytes, piece, values);
    } else {
#pragma unroll
      for (int l = 0; l < kPiece; ++l) values[l] = 0.0f;
    }
#pragma unroll
    for (int l = 0; l < kPiece; ++l) out[i * dim + piece * kPiece + l] = values[l];
  }
}

}  // namespace

void launch_embedding(const void* table, DType dtype, int64_t rows, int64_t dim, const int32_t* ids, int64_t n,
                      int64_t first_row, float* out, cudaStream_t stream) {
  if (n == 0) return;
  const auto* bytes = static_cast<const uint8_t*>(table);
  const bool vec8 = dim % 8 == 0 && reinterpret_cast<uintptr_t>(table) % 16 == 0 &&
                    reinterpret_cast<uintptr_t>(out) % 16 == 0;
  if (vec8 && dtype == DType::kBF16) {
    const auto* typed = static_cast<const __nv_bfloat16*>(table);
    embedding_half_vec8<<<n, 128, 0, stream>>>(typed, rows, dim, ids, first_row, out);
    check_launch("embedding");
    return;
  }
  if (vec8 && dtype == DType::kF16) {
    embedding_half_vec8<<<n, 128, 0, stream>>>(static_cast<const __half*>(table), rows, dim, ids, first_row, out);
    check_launch("embedding");
    return;
  }
  switch (dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kI32: embedding_dense<<<n, 256, 0, stream>>>(table, dtype, rows, dim, ids, first_row, out); break;
    case DType::kQ8_0:
      embedding_quantized<DType::kQ8_0><<<n, 128, 0, stream>>>(bytes, rows, dim, ids, first_row, out);
      break;
    case DType::kQ4_0:
      embedding_quantized<DType::kQ4_0><<<n, 128, 0, stream>>>(bytes, rows, dim, ids, first_row, out);
      break;
    case DType::kQ4_K:
      embedding_quantized<DType::kQ4_K><<<n, 128, 0, stream>>>(bytes, rows, dim, ids, first_row, out);
      break;
    case DType::kQ6_K:
      embedding_quantized<DType::kQ6_K><<<n, 128, 0, stream>>>(bytes, rows, dim, ids, first_row, out);
      break;
  }
  check_launch("embedding");
}

}  // namespace llm::cuda
