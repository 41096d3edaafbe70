// The few inner loops that decide CPU speed, as a table of function pointers chosen once at
// backend construction from what the CPU reports (__builtin_cpu_supports), never from -march:
// one binary runs on the AVX2 CI machine and on AVX-512 dev boxes alike. The portable table is
// plain C++ and is the fallback on any other CPU; tests compare both tables against each other.
#pragma once

#include <cstdint>

namespace llm {

// Register tile of the prefill GEMM micro-kernel: kGemmTileRows input rows x kGemmTileCols
// weight rows per call (12 accumulators + 3 weight + 1 input register = the 16 AVX2 registers).
inline constexpr int64_t kGemmTileRows = 4;
inline constexpr int64_t kGemmTileCols = 3;

struct SimdKernels {
  const char* name;  // "portable" | "avx2"

  // sum_i a[i] * b[i] (b converted from bf16 / f16 in registers)
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  float (*dot_f32_bf16)(const float* a, const uint16_t* b, int64_t n);
  float (*dot_f32_f16)(const float* a, const uint16_t* b, int64_t n);

  void (*bf16_to_f32)(const uint16_t* src, float* dst, int64_t n);
  void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t n);

  void (*axpy)(float a, const float* x, float* y, int64_t n);  // y += a * x
  void (*scale)(float a, float* y, int64_t n);                 // y *= a

  // Batch invariance: a row's result must not depend on which other rows share the step, so every
  // path of linear computes each output the same way — per k-slice, dot_slice's arithmetic (one
  // accumulation chain per output, then the scalar tail), slices summed in order. gemm_tile's
  // per-output arithmetic is exactly dot_slice's; the _bf16/_f16 forms convert in registers to
  // the same f32 values a converted copy would hold.
  float (*dot_slice)(const float* a, const float* b, int64_t n);
  float (*dot_slice_bf16)(const float* a, const uint16_t* b, int64_t n);
  float (*dot_slice_f16)(const float* a, const uint16_t* b, int64_t n);
  // out[r] = dot_slice(a, b[r], n) for r < 4, bit for bit, interleaved for instruction-level
  // parallelism (decode streams four weight rows at once).
  void (*dot_slice4)(const float* a, const float* const* b, int64_t n, float* out);
  void (*dot_slice4_bf16)(const float* a, const uint16_t* const* b, int64_t n, float* out);
  void (*dot_slice4_f16)(const float* a, const uint16_t* const* b, int64_t n, float* out);

  // out[r * ldo + c] += dot(x[r * ldx ..], w[c * ldw ..]) over kc elements,
  // for r < kGemmTileRows, c < kGemmTileCols.
  // x [kGemmTileRows, kc] (row stride ldx); w [kGemmTileCols, kc] (row stride ldw);
  // out [kGemmTileRows, kGemmTileCols] (row stride ldo).
  void (*gemm_tile)(const float* x, int64_t ldx, const float* w, int64_t ldw, int64_t kc, float* out, int64_t ldo);
};

const SimdKernels& portable_simd_kernels();
// nullptr when this CPU (or this build's architecture) lacks AVX2 + FMA + F16C.
const SimdKernels* avx2_simd_kernels();
// The fastest table this CPU supports.
const SimdKernels& best_simd_kernels();

}  // namespace llm
