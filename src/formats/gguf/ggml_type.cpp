#include "formats/gguf/ggml_type.h"

#include <array>

namespace llm {
namespace {

// Block geometry from ggml-common.h (sizeof(block_*)) and ggml.c type_traits. Ids 4, 5, 31-33
// and 36-38 were removed from the GGUF format and are absent on purpose.
constexpr std::array<GgmlTypeInfo, 32> kTypes = {{
    {0, "f32", 1, 4, DType::kF32},
    {1, "f16", 1, 2, DType::kF16},
    {2, "q4_0", 32, 18, DType::kQ4_0},
    {3, "q4_1", 32, 20, std::nullopt},
    {6, "q5_0", 32, 22, std::nullopt},
    {7, "q5_1", 32, 24, std::nullopt},
    {8, "q8_0", 32, 34, DType::kQ8_0},
    {9, "q8_1", 32, 36, std::nullopt},
    {10, "q2_K", 256, 84, std::nullopt},
    {11, "q3_K", 256, 110, std::nullopt},
    {12, "q4_K", 256, 144, DType::kQ4_K},
    {13, "q5_K", 256, 176, std::nullopt},
    {14, "q6_K", 256, 210, DType::kQ6_K},
    {15, "q8_K", 256, 292, std::nullopt},
    {16, "iq2_xxs", 256, 66, std::nullopt},
    {17, "iq2_xs", 256, 74, std::nullopt},
    {18, "iq3_xxs", 256, 98, std::nullopt},
    {19, "iq1_s", 256, 50, std::nullopt},
    {20, "iq4_nl", 32, 18, std::nullopt},
    {21, "iq3_s", 256, 110, std::nullopt},
    {22, "iq2_s", 256, 82, std::nullopt},
    {23, "iq4_xs", 256, 136, std::nullopt},
    {24, "i8", 1, 1, std::nullopt},
    {25, "i16", 1, 2, std::nullopt},
    {26, "i32", 1, 4, std::nullopt},
    {27, "i64", 1, 8, std::nullopt},
    {28, "f64", 1, 8, std::nullopt},
    {29, "iq1_m", 256, 56, std::nullopt},
    {30, "bf16", 1, 2, DType::kBF16},
    {34, "tq1_0", 256, 54, std::nullopt},
    {35, "tq2_0", 256, 66, std::nullopt},
    {39, "mxfp4", 32, 17, std::nullopt},
}};

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const GgmlTypeInfo& info : kTypes) {
    if (info.id == id) return &info;
  }
  return nullptr;
}

std::optional<uint32_t> ggml_type_id(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ4_0: return 2;
    case DType::kQ8_0: return 8;
    case DType::kQ4_K: return 12;
    case DType::kQ6_K: return 14;
    case DType::kBF16: return 30;
    case DType::kI32: return std::nullopt;  // ggml has i32 (26), but GGUF weights of it are unsupported here
  }
  return std::nullopt;
}

}  // namespace llm
