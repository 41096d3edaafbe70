// Portable (plain C++) versions of the SIMD table: correct everywhere, fast nowhere in particular.
#include "backend/cpu/simd.h"

#include "core/half.h"

namespace llm {
namespace {

float dot_f32(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_f32_bf16(const float* a, const uint16_t* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * bf16_to_float(b[i]);
  return sum;
}

float dot_f32_f16(const float* a, const uint16_t* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * f16_to_float(b[i]);
  return sum;
}

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_float(src[i]);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void scale(float a, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

template <class T, float (*Dot)(const float*, const T*, int64_t)>
void dot_slice4(const float* a, const T* const* b, int64_t n, float* out) {
  for (int r = 0; r < 4; ++r) out[r] = Dot(a, b[r], n);
}

void gemm_tile(const float* x, int64_t ldx, const float* w, int64_t ldw, int64_t kc, float* out, int64_t ldo) {
  for (int64_t r = 0; r < kGemmTileRows; ++r) {
    for (int64_t c = 0; c < kGemmTileCols; ++c) out[r * ldo + c] += dot_f32(x + r * ldx, w + c * ldw, kc);
  }
}

}  // namespace

const SimdKernels& portable_simd_kernels() {
  static const SimdKernels kKernels{
      .name = "portable",
      .dot_f32 = dot_f32,
      .dot_f32_bf16 = dot_f32_bf16,
      .dot_f32_f16 = dot_f32_f16,
      .bf16_to_f32 = bf16_to_f32,
      .f16_to_f32 = f16_to_f32,
      .axpy = axpy,
      .scale = scale,
      .dot_slice = dot_f32,  // gemm_tile below is made of dot_f32
      .dot_slice_bf16 = dot_f32_bf16,
      .dot_slice_f16 = dot_f32_f16,
      .dot_slice4 = dot_slice4<float, dot_f32>,
      .dot_slice4_bf16 = dot_slice4<uint16_t, dot_f32_bf16>,
      .dot_slice4_f16 = dot_slice4<uint16_t, dot_f32_f16>,
      .gemm_tile = gemm_tile,
  };
  return kKernels;
}

const SimdKernels& best_simd_kernels() {
  const SimdKernels* avx2 = avx2_simd_kernels();
  return avx2 != nullptr ? *avx2 : portable_simd_kernels();
}

}  // namespace llm
