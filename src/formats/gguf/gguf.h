// GGUF reader (v2, v3; little-endian). Every count, length and offset in the file is checked
// against the bytes that remain before anything is allocated or viewed; see
// shared/reference/reliability.md 1.1-1.2 for the bugs this guards against.
// Tensors become a TensorSource with shapes outermost-first (GGUF ne[] is innermost-first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "formats/gguf/gguf_metadata.h"
#include "formats/tensor_source.h"
#include "util/result.h"

namespace llm {

// Caps beyond the format's own: ggml's (strings and arrays of at most 1 Gi) plus counts that no
// real model file approaches, so that a small hostile file cannot make us build millions of
// metadata records.
inline constexpr uint64_t kGgufMaxStringBytes = uint64_t{1} << 30;
inline constexpr uint64_t kGgufMaxArrayElements = uint64_t{1} << 30;
inline constexpr uint64_t kGgufMaxKeyValues = uint64_t{1} << 16;
inline constexpr uint64_t kGgufMaxTensors = uint64_t{1} << 20;
inline constexpr uint64_t kGgufMaxTensorNameBytes = 63;  // ggml: strlen(name) < GGML_MAX_NAME (64)
inline constexpr uint32_t kGgufMaxAlignment = uint32_t{1} << 20;
inline constexpr uint32_t kGgufDefaultAlignment = 32;

struct GgufFile {
  uint32_t version = 0;
  uint32_t alignment = kGgufDefaultAlignment;  // general.alignment, or the default
  uint64_t data_offset = 0;                    // file offset of the tensor data section
  GgufMetadata metadata;
  TensorSource tensors;  // byte views into the parsed bytes (read_gguf keeps the mapping alive)
};

// Maps `path` and parses it; the returned tensors keep the mapping alive.
Result<GgufFile> read_gguf(const std::string& path);

// Parses GGUF bytes; `name` names the input in errors. Tensor views point into `bytes`, which
// must outlive the result.
Result<GgufFile> parse_gguf(std::span<const std::byte> bytes, const std::string& name);

}  // namespace llm
