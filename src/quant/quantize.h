// Reference quantization (ggml's *_ref algorithms, so files we write match llama.cpp's bit for
// bit): f32 -> Q8_0 / Q4_0, plus the dense types. Used by tests and by conversion tools.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "util/result.h"

namespace llm {

// Q8_0 per block of 32: d = max|x| / 127, q = round(x / d).
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
// Q4_0 per block of 32: m = the value of largest magnitude (with its sign), d = m / -8,
// q = min(15, trunc(x / d + 8.5)), stored as ggml's nibble order (element j low, j + 16 high).
void quantize_row_q4_0(const float* src, void* dst, int64_t n);

// n elements (a whole number of blocks, LLM_CHECKed) of f32 -> dtype. kUnsupported for
// dtypes without a reference quantizer here (Q4_K, Q6_K, I32).
Status quantize_row(DType dtype, const float* src, void* dst, int64_t n);

}  // namespace llm
