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
