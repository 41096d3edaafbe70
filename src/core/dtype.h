// Element types of weights and activations. Quantized types are stored in blocks of
// block_size elements taking block_bytes bytes (the GGUF/ggml block layouts).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "util/result.h"

namespace llm {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kI32,
  kQ8_0,  // 32 x int8 + f16 scale
  kQ4_0,  // 32 x 4-bit + f16 scale
  kQ4_K,  // 256-element super-block, 4-bit with 6-bit sub-block scales
  kQ6_K,  // 256-element super-block, 6-bit
};

struct DTypeInfo {
  std::string_view name;  // "f32", "bf16", "q8_0" ...
  int64_t block_size;     // elements per block (1 for plain types)
  int64_t block_bytes;    // bytes per block
  bool quantized;
};

const DTypeInfo& dtype_info(DType dtype);
inline std::string_view dtype_name(DType dtype) { return dtype_info(dtype).name; }
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes taken by n_elements of dtype; an error if n_elements is not a whole number of blocks or
// the product overflows. `subject` names the tensor in the error.
Result<uint64_t> dtype_bytes(DType dtype, uint64_t n_elements, std::string_view subject);

// Bytes of one row of `n_columns` elements. LLM_CHECKs that n_columns is a multiple of the block
// size (validated at load time).
int64_t dtype_row_bytes(DType dtype, int64_t n_columns);

}  // namespace llm
