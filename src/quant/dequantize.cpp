#include "quant/dequantize.h"

#include <cstring>

#include "core/half.h"
#include "util/check.h"

namespace llm {

void dequantize_row(DType dtype, const void* src, float* dst, int64_t n) {
  LLM_CHECK(n % dtype_info(dtype).block_size == 0, n, " elements of ", dtype_name(dtype));
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16: {
      const auto* half = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_float(half[i]);
      return;
    }
    case DType::kBF16: {
      const auto* half = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(half[i]);
      return;
    }
    case DType::kI32: {
      const auto* ints = static_cast<const int32_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(ints[i]);
      return;
    }
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K:
      LLM_CHECK(false, "dequantize ", dtype_name(dtype), ": not implemented yet");
  }
}

}  // namespace llm
