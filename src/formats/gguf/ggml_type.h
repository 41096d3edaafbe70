// ggml tensor type ids as stored in GGUF tensor infos (ggml.h enum ggml_type), with the block
// geometry of every type, so a file can be fully validated (offsets, sizes) even when it holds
// types we cannot compute with.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/dtype.h"

namespace llm {

struct GgmlTypeInfo {
  uint32_t id;
  std::string_view name;       // ggml's type name: "q4_K", "bf16" ...
  int64_t block_size;          // elements per block
  int64_t block_bytes;         // bytes per block
  std::optional<DType> dtype;  // nullopt: a valid ggml type we do not support
};

// nullptr for ids that are not ggml types, or were removed from GGUF (4, 5, 31-33, 36-38).
const GgmlTypeInfo* ggml_type_info(uint32_t id);

// The ggml id of a DType (for writers); nullopt for DTypes ggml has no id for.
std::optional<uint32_t> ggml_type_id(DType dtype);

}  // namespace llm
