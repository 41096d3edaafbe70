// Reference dequantization: n elements (a whole number of blocks) of `dtype` -> f32.
// Block layouts are ggml's (Q8_0, Q4_0, Q4_K, Q6_K). Dense types (f32/f16/bf16) convert too,
// so callers can treat every weight dtype alike.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace llm {

void dequantize_row(DType dtype, const void* src, float* dst, int64_t n);

}  // namespace llm
