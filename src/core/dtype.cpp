#include "core/dtype.h"

#include <array>

#include "util/check.h"
#include "util/str.h"

namespace llm {

const DTypeInfo& dtype_info(DType dtype) {
  static const DTypeInfo kF32{"f32", 1, 4, false}, kF16{"f16", 1, 2, false}, kBF16{"bf16", 1, 2, false},
      kI32{"i32", 1, 4, false}, kQ8_0{"q8_0", 32, 34, true}, kQ4_0{"q4_0", 32, 18, true},
      kQ4_K{"q4_k", 256, 144, true}, kQ6_K{"q6_k", 256, 210, true};
  switch (dtype) {
    case DType::kF32: return kF32;
    case DType::kF16: return kF16;
    case DType::kBF16: return kBF16;
    case DType::kI32: return kI32;
    case DType::kQ8_0: return kQ8_0;
    case DType::kQ4_0: return kQ4_0;
    case DType::kQ4_K: return kQ4_K;
    case DType::kQ6_K: return kQ6_K;
  }
  LLM_CHECK(false, "unknown dtype ", static_cast<int>(dtype));
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kI32, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K,
                      DType::kQ6_K}) {
    if (dtype_info(dtype).name == name) return dtype;
  }
  return std::nullopt;
}

Result<uint64_t> dtype_bytes(DType dtype, uint64_t n_elements, std::string_view subject) {
  const DTypeInfo& info = dtype_info(dtype);
  uint64_t block = static_cast<uint64_t>(info.block_size);
  if (n_elements % block != 0) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", n_elements, " elements is not a multiple of the ",
                                                     info.name, " block size ", block));
  }
  uint64_t blocks = n_elements / block;
  uint64_t per_block = static_cast<uint64_t>(info.block_bytes);
  if (blocks > UINT64_MAX / per_block) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": byte size of ", n_elements, " ", info.name,
                                                     " elements overflows"));
  }
  return blocks * per_block;
}

int64_t dtype_row_bytes(DType dtype, int64_t n_columns) {
  const DTypeInfo& info = dtype_info(dtype);
  LLM_CHECK(n_columns % info.block_size == 0, "row of ", n_columns, " ", info.name, " elements: not a multiple of block ",
            info.block_size);
  return n_columns / info.block_size * info.block_bytes;
}

}  // namespace llm
