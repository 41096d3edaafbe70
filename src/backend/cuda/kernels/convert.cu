// Conversions feeding the tensor-core GEMMs: f32 activations -> bf16/f16, and any weight dtype
// (dense or quantized) -> a dense f32/f16/bf16 copy.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void store_as(void* out, DType dtype, int64_t index, float value) {
  switch (dtype) {
    case DType::kF32: static_cast<float*>(out)[index] = value; return;
    case DType::kF16: static_cast<__half*>(out)[index] = __float2half_rn(value); return;
    case DType::kBF16: static_cast<__nv_bfloat16*>(out)[index] = __float2bfloat16_rn(value); return;
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: return;  // the launchers admit only dense float outputs
  }
}

// x f32 [count] -> out [count]; four elements per thread when aligned (the common case).
__global__ void convert_kernel(const float* x, int64_t count, void* out, DType out_dtype) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    store_as(out, out_dtype, i, x[i]);
  }
}

__global__ void convert_bf16_vec4(const float4* x, int64_t count4, __nv_bfloat162* out) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < count4;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const float4 v = x[i];
    out[2 * i] = __floats2bfloat162_rn(v.x, v.y);
    out[2 * i + 1] = __floats2bfloat162_rn(v.z, v.w);
  }
}

// weight [rows, columns] dense -> out [rows, columns].
__global__ void dequantize_dense(const void* weight, DType dtype, int64_t count, void* out, DType out_dtype) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    store_as(out, out_dtype, i, load_dense(weight, dtype, i));
  }
}

// One thread per 32-element piece; pieces are numbered row-major over the whole matrix.
template <DType kType>
__global__ void dequantize_pieces(const uint8_t* weight, int64_t columns, int64_t total_pieces, void* out,
                                  DType out_dtype) {
  using Traits = QuantTraits<kType>;
  const int64_t pieces_per_row = columns / kPiece;
  const int64_t row_bytes = columns / Traits::kBlockElements * Traits::kBlockBytes;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; p < total_pieces;
       p += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t row = p / pieces_per_row, piece = p % pieces_per_row;
    float values[kPiece];
    dequantize_piece<kType>(weight + row * row_bytes, piece, values);
#pragma unroll
    for (int l = 0; l < kPiece; ++l) store_as(out, out_dtype, row * columns + piece * kPiece + l, values[l]);
  }
}

int64_t grid_for(int64_t count) { return std::max<int64_t>(1, std::min<int64_t>((count + kThreads - 1) / kThreads, 132 * 64)); }

}  // namespace

void launch_convert_from_f32(const float* x, int64_t count, void* out, DType out_dtype, cudaStream_t stream) {
  if (count == 0) return;
  const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 8 == 0;
  if (out_dtype == DType::kBF16 && aligned && count % 4 == 0) {
    convert_bf16_vec4<<<grid_for(count / 4), kThreads, 0, stream>>>(reinterpret_cast<const float4*>(x), count / 4,
                                                                    static_cast<__nv_bfloat162*>(out));
  } else {
    convert_kernel<<<grid_for(count), kThreads, 0, stream>>>(x, count, out, out_dtype);
  }
  check_launch("convert_from_f32");
}

void launch_dequantize(const void* weight, DType dtype, int64_t rows, int64_t columns, void* out, DType out_dtype,
                       cudaStream_t stream) {
  const int64_t count = rows * columns;
  if (count == 0) return;
  const auto* bytes = static_cast<const uint8_t*>(weight);
  const int64_t pieces = count / kPiece;
  switch (dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kI32:
      dequantize_dense<<<grid_for(count), kThreads, 0, stream>>>(weight, dtype, count, out, out_dtype);
      break;
    case DType::kQ8_0:
      dequantize_pieces<DType::kQ8_0><<<grid_for(pieces), kThreads, 0, stream>>>(bytes, columns, pieces, out, out_dtype);
      break;
    case DType::kQ4_0:
      dequantize_pieces<DType::kQ4_0><<<grid_for(pieces), kThreads, 0, stream>>>(bytes, columns, pieces, out, out_dtype);
      break;
    case DType::kQ4_K:
      dequantize_pieces<DType::kQ4_K><<<grid_for(pieces), kThreads, 0, stream>>>(bytes, columns, pieces, out, out_dtype);
      break;
    case DType::kQ6_K:
      dequantize_pieces<DType::kQ6_K><<<grid_for(pieces), kThreads, 0, stream>>>(bytes, columns, pieces, out, out_dtype);
      break;
  }
  check_launch("dequantize");
}

}  // namespace llm::cuda
