// Device-side element access for the dense float types and the 32-element pieces of the
// quantized block formats (layouts in quant/blocks.h, mirrored from quant/dequantize.cpp, which
// is the truth these are tested against). Every quantized format is read as pieces of 32
// consecutive elements: Q8_0/Q4_0 blocks are one piece, Q4_K/Q6_K super-blocks are eight.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "core/dtype.h"
#include "quant/blocks.h"
#include "util/check.h"

namespace llm::cuda {

inline constexpr int kPiece = 32;

__device__ __forceinline__ float load_dense(const void* data, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::kF32: return static_cast<const float*>(data)[index];
    case DType::kF16: return __half2float(static_cast<const __half*>(data)[index]);
    case DType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(data)[index]);
    case DType::kI32: return static_cast<float>(static_cast<const int32_t*>(data)[index]);
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: break;
  }
  return __int_as_float(0x7fc00000);  // quantized types are read by piece, never here
}

// Calls launch(T{}) with T the element type of `dtype` (f32 | f16 | bf16: a KV cache, a norm's
// output, synthetic weights): the one place such a dtype becomes a kernel's template argument.
// Other dtypes are a caller bug.
template <class Launch>
void with_float_type(DType dtype, const char* op, Launch&& launch) {
  switch (dtype) {
    case DType::kF32: launch(float{}); return;
    case DType::kF16: launch(__half{}); return;
    case DType::kBF16: launch(__nv_bfloat16{}); return;
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: break;
  }
  LLM_CHECK(false, op, ": dtype ", dtype_name(dtype), " (f32, f16 or bf16)");
}

// f32 -> the cache's element type, round to nearest even.
template <typename T>
__device__ __forceinline__ T from_float(float value);
template <>
__device__ __forceinline__ float from_float<float>(float value) { return value; }
template <>
__device__ __forceinline__ __half from_float<__half>(float value) { return __float2half_rn(value); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float value) { return __float2bfloat16_rn(value); }

template <typename T>
__device__ __forceinline__ float to_float(T value);
template <>
__device__ __forceinline__ float to_float<float>(float value) { return value; }
template <>
__device__ __forceinline__ float to_float<__half>(__half value) { return __half2float(value); }
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 value) { return __bfloat162float(value); }

// f16 field at an even byte address (block fields are, since rows and blocks have even sizes).
__device__ __forceinline__ float load_f16_field(const uint8_t* bytes) {
  return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short*>(bytes)));
}

template <DType kType>
struct QuantTraits;
template <>
struct QuantTraits<DType::kQ8_0> {
  static constexpr int kBlockElements = quant::kQ8_0BlockSize, kBlockBytes = quant::kQ8_0BlockBytes;
};
template <>
struct QuantTraits<DType::kQ4_0> {
  static constexpr int kBlockElements = quant::kQ4_0BlockSize, kBlockBytes = quant::kQ4_0BlockBytes;
};
template <>
struct QuantTraits<DType::kQ4_K> {
  static constexpr int kBlockElements = quant::kQ4_KBlockSize, kBlockBytes = quant::kQ4_KBlockBytes;
};
template <>
struct QuantTraits<DType::kQ6_K> {
  static constexpr int kBlockElements = quant::kQ6_KBlockSize, kBlockBytes = quant::kQ6_KBlockBytes;
};

// ggml's get_scale_min_k4 (see dequantize.cpp).
__device__ __forceinline__ void scale_min_k4(int j, const uint8_t* scales, float* scale, float* min) {
  if (j < 4) {
    *scale = static_cast<float>(scales[j] & 63);
    *min = static_cast<float>(scales[j + 4] & 63);
  } else {
    *scale = static_cast<float>((scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4));
    *min = static_cast<float>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

// Elements [32 * piece, 32 * piece + 32) of a quantized row starting at `row`.
template <DType kType>
__device__ __forceinline__ void dequantize_piece(const uint8_t* row, int64_t piece, float (&out)[kPiece]) {
  if constexpr (kType == DType::kQ8_0) {
    const uint8_t* block = row + piece * quant::kQ8_0BlockBytes;
    const float d = load_f16_field(block);
    const auto* qs = reinterpret_cast<const int8_t*>(block + 2);
#pragma unroll
    for (int j = 0; j < kPiece; ++j) out[j] = d * static_cast<float>(qs[j]);
  } else if constexpr (kType == DType::kQ4_0) {
    const uint8_t* block = row + piece * quant::kQ4_0BlockBytes;
    const float d = load_f16_field(block);
    const uint8_t* qs = block + 2;
#pragma unroll
    for (int j = 0; j < kPiece / 2; ++j) {
      out[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
      out[j + kPiece / 2] = d * static_cast<float>((qs[j] >> 4) - 8);
    }
  } else if constexpr (kType == DType::kQ4_K) {
    // Piece p of a super-block: chunk p / 2 (32 bytes of qs), low nibbles for even p, high for odd.
    const uint8_t* block = row + (piece / 8) * quant::kQ4_KBlockBytes;
    const int sub = static_cast<int>(piece % 8);
    float scale, min;
    scale_min_k4(sub, block + quant::kQ4_KScalesOffset, &scale, &min);
    const float d = load_f16_field(block) * scale, m = load_f16_field(block + 2) * min;
    const uint8_t* qs = block + quant::kQ4_KQsOffset + 32 * (sub / 2);
    const int shift = (sub % 2) * 4;
#pragma unroll
    for (int l = 0; l < kPiece; ++l) out[l] = d * static_cast<float>((qs[l] >> shift) & 0x0F) - m;
  } else if constexpr (kType == DType::kQ6_K) {
    // Piece p: half h = p / 4, k = p % 4 within the half (see dequantize_q6_k).
    const uint8_t* block = row + (piece / 8) * quant::kQ6_KBlockBytes;
    const int p = static_cast<int>(piece % 8), half = p / 4, k = p % 4;
    const float d = load_f16_field(block + quant::kQ6_KDOffset);
    const uint8_t* ql = block + 64 * half + 32 * (k % 2);
    const uint8_t* qh = block + quant::kQ6_KQhOffset + 32 * half;
    const auto* sc = reinterpret_cast<const int8_t*>(block + quant::kQ6_KScalesOffset) + 8 * half + 2 * k;
    const int low_shift = (k / 2) * 4, high_shift = 2 * k;
#pragma unroll
    for (int l = 0; l < kPiece; ++l) {
      const int q = (((ql[l] >> low_shift) & 0x0F) | (((qh[l] >> high_shift) & 3) << 4)) - 32;
      out[l] = d * static_cast<float>(sc[l / 16]) * static_cast<float>(q);
    }
  } else {
    static_assert(kType == DType::kQ8_0, "not a quantized type");
  }
}

}  // namespace llm::cuda
