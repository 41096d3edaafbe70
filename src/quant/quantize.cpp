#include "quant/quantize.h"

#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/blocks.h"
#include "util/check.h"
#include "util/str.h"

namespace llm {
namespace {

void store_f16(uint8_t* bytes, float value) {
  uint16_t bits = float_to_f16(value);
  std::memcpy(bytes, &bits, sizeof(bits));
}

// Float -> int conversion is undefined for NaN and out-of-range values; ggml relies on the
// inputs being finite. We clamp first so a NaN weight quantizes to `low` instead of UB.
int clamp_to_int(float value, int low, int high) {
  if (!(value >= static_cast<float>(low))) return low;  // also NaN
  if (value >= static_cast<float>(high)) return high;
  return static_cast<int>(value);
}

}  // namespace

void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  LLM_CHECK(n >= 0 && n % quant::kQ8_0BlockSize == 0, n, " elements for q8_0: expected a multiple of 32");
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / quant::kQ8_0BlockSize; ++b, src += quant::kQ8_0BlockSize, out += quant::kQ8_0BlockBytes) {
    float amax = 0.0f;
    for (int j = 0; j < quant::kQ8_0BlockSize; ++j) amax = std::fmax(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(out, d);
    for (int j = 0; j < quant::kQ8_0BlockSize; ++j) {
      // roundf as in ggml: halves away from zero. |x * id| <= 127 for finite inputs.
      out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(clamp_to_int(std::round(src[j] * id), -128, 127)));
    }
  }
}

void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  LLM_CHECK(n >= 0 && n % quant::kQ4_0BlockSize == 0, n, " elements for q4_0: expected a multiple of 32");
  constexpr int kHalf = quant::kQ4_0BlockSize / 2;
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / quant::kQ4_0BlockSize; ++b, src += quant::kQ4_0BlockSize, out += quant::kQ4_0BlockBytes) {
    float amax = 0.0f;
    float max = 0.0f;  // the element of largest magnitude, sign kept: it maps exactly to q = 0
    for (int j = 0; j < quant::kQ4_0BlockSize; ++j) {
      if (amax < std::fabs(src[j])) {
        amax = std::fabs(src[j]);
        max = src[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(out, d);
    for (int j = 0; j < kHalf; ++j) {
      // ggml: MIN(15, (int8_t)(x * id + 8.5f)) -- truncation toward zero of a value in [0.5, 16.5].
      const int low = clamp_to_int(src[j] * id + 8.5f, 0, 15);
      const int high = clamp_to_int(src[j + kHalf] * id + 8.5f, 0, 15);
      out[2 + j] = static_cast<uint8_t>(low | (high << 4));
    }
  }
}

Status quantize_row(DType dtype, const float* src, void* dst, int64_t n) {
  LLM_CHECK(n >= 0 && n % dtype_info(dtype).block_size == 0, n, " elements of ", dtype_name(dtype));
  auto* out = static_cast<uint8_t*>(dst);
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return {};
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) store_f16(out + 2 * i, src[i]);
      return {};
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t bits = float_to_bf16(src[i]);
        std::memcpy(out + 2 * i, &bits, sizeof(bits));
      }
      return {};
    case DType::kQ8_0:
      quantize_row_q8_0(src, dst, n);
      return {};
    case DType::kQ4_0:
      quantize_row_q4_0(src, dst, n);
      return {};
    case DType::kI32:
    case DType::kQ4_K:
    case DType::kQ6_K:
      break;
  }
  return make_error(ErrorCode::kUnsupported,
                    str("quantize to ", dtype_name(dtype), ": no reference quantizer (supported: f32, f16, bf16, q8_0, q4_0)"));
}

}  // namespace llm
