// AVX2 + FMA + F16C versions of the SIMD table. Each function carries its own target attribute,
// so the file builds without -mavx2 and is only called after __builtin_cpu_supports said yes.
#include "backend/cpu/simd.h"

#include "core/half.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLM_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace llm {
namespace {

LLM_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
  return _mm_cvtss_f32(sum);
}

// bf16 is the top half of an f32: widen to 32 bits and shift left.
LLM_AVX2 inline __m256 load_bf16x8(const uint16_t* src) {
  __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

LLM_AVX2 inline __m256 load_f16x8(const uint16_t* src) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
}

LLM_AVX2 inline __m256 load_f32x8(const float* src) { return _mm256_loadu_ps(src); }

// Four independent accumulators hide the FMA latency; a loop this shape streams a weight row at
// memory speed. `Load` turns 8 stored elements of b into 8 floats.
template <class T, __m256 (*Load)(const T*), float (*Scalar)(T)>
LLM_AVX2 inline float dot_generic(const float* a, const T* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), Load(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), Load(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), Load(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), Load(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), Load(b + i), acc0);
  float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += a[i] * Scalar(b[i]);
  return sum;
}

inline float identity(float value) { return value; }

// One accumulation chain, then the scalar tail: gemm_tile's per-output arithmetic (see simd.h).
template <class T, __m256 (*Load)(const T*), float (*Scalar)(T)>
LLM_AVX2 inline float dot_slice_generic(const float* a, const T* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), Load(b + i), acc);
  float sum = horizontal_sum(acc);
  for (; i < n; ++i) sum += a[i] * Scalar(b[i]);
  return sum;
}

template <class T, __m256 (*Load)(const T*), float (*Scalar)(T)>
LLM_AVX2 inline void dot_slice4_generic(const float* a, const T* const* b, int64_t n, float* out) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  const T* b0 = b[0];  // in registers, not reloaded through b every iteration
  const T* b1 = b[1];
  const T* b2 = b[2];
  const T* b3 = b[3];
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(a + i);
    acc0 = _mm256_fmadd_ps(x, Load(b0 + i), acc0);
    acc1 = _mm256_fmadd_ps(x, Load(b1 + i), acc1);
    acc2 = _mm256_fmadd_ps(x, Load(b2 + i), acc2);
    acc3 = _mm256_fmadd_ps(x, Load(b3 + i), acc3);
  }
  float sums[4] = {horizontal_sum(acc0), horizontal_sum(acc1), horizontal_sum(acc2), horizontal_sum(acc3)};
  for (int r = 0; r < 4; ++r) {
    for (int64_t j = i; j < n; ++j) sums[r] += a[j] * Scalar(b[r][j]);
    out[r] = sums[r];
  }
}

LLM_AVX2 void dot_slice4(const float* a, const float* const* b, int64_t n, float* out) {
  dot_slice4_generic<float, load_f32x8, identity>(a, b, n, out);
}
LLM_AVX2 void dot_slice4_bf16(const float* a, const uint16_t* const* b, int64_t n, float* out) {
  dot_slice4_generic<uint16_t, load_bf16x8, bf16_to_float>(a, b, n, out);
}
LLM_AVX2 void dot_slice4_f16(const float* a, const uint16_t* const* b, int64_t n, float* out) {
  dot_slice4_generic<uint16_t, load_f16x8, f16_to_float>(a, b, n, out);
}

LLM_AVX2 float dot_slice(const float* a, const float* b, int64_t n) {
  return dot_slice_generic<float, load_f32x8, identity>(a, b, n);
}
LLM_AVX2 float dot_slice_bf16(const float* a, const uint16_t* b, int64_t n) {
  return dot_slice_generic<uint16_t, load_bf16x8, bf16_to_float>(a, b, n);
}
LLM_AVX2 float dot_slice_f16(const float* a, const uint16_t* b, int64_t n) {
  return dot_slice_generic<uint16_t, load_f16x8, f16_to_float>(a, b, n);
}

LLM_AVX2 float dot_f32(const float* a, const float* b, int64_t n) {
  return dot_generic<float, load_f32x8, identity>(a, b, n);
}
LLM_AVX2 float dot_f32_bf16(const float* a, const uint16_t* b, int64_t n) {
  return dot_generic<uint16_t, load_bf16x8, bf16_to_float>(a, b, n);
}
LLM_AVX2 float dot_f32_f16(const float* a, const uint16_t* b, int64_t n) {
  return dot_generic<uint16_t, load_f16x8, f16_to_float>(a, b, n);
}

LLM_AVX2 void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16x8(src + i));
  for (; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

LLM_AVX2 void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(src + i));
  for (; i < n; ++i) dst[i] = f16_to_float(src[i]);
}

LLM_AVX2 void axpy(float a, const float* x, float* y, int64_t n) {
  __m256 factor = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(factor, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

LLM_AVX2 void scale(float a, float* y, int64_t n) {
  __m256 factor = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(factor, _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= a;
}

// 4 x 3 register tile: per 8 columns, 3 weight loads + 4 input loads feed 12 FMAs.
LLM_AVX2 void gemm_tile(const float* x, int64_t ldx, const float* w, int64_t ldw, int64_t kc, float* out,
                        int64_t ldo) {
  static_assert(kGemmTileRows == 4 && kGemmTileCols == 3, "the tile below is written out for 4 x 3");
  const float* x0 = x;
  const float* x1 = x + ldx;
  const float* x2 = x + 2 * ldx;
  const float* x3 = x + 3 * ldx;
  const float* w0 = w;
  const float* w1 = w + ldw;
  const float* w2 = w + 2 * ldw;
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), c12 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c22 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c32 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= kc; i += 8) {
    __m256 b0 = _mm256_loadu_ps(w0 + i), b1 = _mm256_loadu_ps(w1 + i), b2 = _mm256_loadu_ps(w2 + i);
    __m256 a = _mm256_loadu_ps(x0 + i);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    c02 = _mm256_fmadd_ps(a, b2, c02);
    a = _mm256_loadu_ps(x1 + i);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    c12 = _mm256_fmadd_ps(a, b2, c12);
    a = _mm256_loadu_ps(x2 + i);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    c22 = _mm256_fmadd_ps(a, b2, c22);
    a = _mm256_loadu_ps(x3 + i);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    c32 = _mm256_fmadd_ps(a, b2, c32);
  }
  float tile[4][3] = {
      {horizontal_sum(c00), horizontal_sum(c01), horizontal_sum(c02)},
      {horizontal_sum(c10), horizontal_sum(c11), horizontal_sum(c12)},
      {horizontal_sum(c20), horizontal_sum(c21), horizontal_sum(c22)},
      {horizontal_sum(c30), horizontal_sum(c31), horizontal_sum(c32)},
  };
  for (; i < kc; ++i) {  // the last kc % 8 columns
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 3; ++c) tile[r][c] += x[r * ldx + i] * w[c * ldw + i];
    }
  }
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 3; ++c) out[r * ldo + c] += tile[r][c];
  }
}

}  // namespace

const SimdKernels* avx2_simd_kernels() {
  static const SimdKernels kKernels{
      .name = "avx2",
      .dot_f32 = dot_f32,
      .dot_f32_bf16 = dot_f32_bf16,
      .dot_f32_f16 = dot_f32_f16,
      .bf16_to_f32 = bf16_to_f32,
      .f16_to_f32 = f16_to_f32,
      .axpy = axpy,
      .scale = scale,
      .dot_slice = dot_slice,
      .dot_slice_bf16 = dot_slice_bf16,
      .dot_slice_f16 = dot_slice_f16,
      .dot_slice4 = dot_slice4,
      .dot_slice4_bf16 = dot_slice4_bf16,
      .dot_slice4_f16 = dot_slice4_f16,
      .gemm_tile = gemm_tile,
  };
  __builtin_cpu_init();
  bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return supported ? &kKernels : nullptr;
}

}  // namespace llm

#else  // not x86: only the portable table exists.

namespace llm {
const SimdKernels* avx2_simd_kernels() { return nullptr; }
}  // namespace llm

#endif
