// Hugging Face safetensors -> TensorSource. Layout: 8-byte little-endian header length N, N bytes of
// UTF-8 JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the data section, which the tensors must tile exactly (no gap, overlap or trailing byte).
// Every file is hostile: the checks follow the safetensors crate (read_metadata + validate) and
// add ours (duplicate keys, unknown dtypes, integer shapes <= 2^53, a tensor count cap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "formats/tensor_source.h"
#include "util/result.h"

namespace llm {

// Limits from the safetensors crate (header) and ours (tensor count).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;
inline constexpr uint64_t kSafetensorsMaxTensors = 1'000'000;

// Parses a whole safetensors file held in `bytes`. The entries' spans point into `bytes`: the
// caller keeps that memory alive as long as the result is used. `name` names the file in errors.
// F32/F16/BF16 tensors are read; other valid safetensors dtypes give kUnsupported, unknown dtype
// strings kInvalidFormat.
Result<TensorSource> parse_safetensors(std::span<const std::byte> bytes, const std::string& name);

// Memory-maps `path` and parses it; the mapping lives as long as the returned source.
Result<TensorSource> read_safetensors(const std::string& path);

// Reads a Hugging Face model directory: model.safetensors.index.json (sharded, weight_map checked
// against the shards), else model.safetensors, else the complete set of model-K-of-N.safetensors.
Result<TensorSource> read_safetensors_dir(const std::string& dir);

}  // namespace llm
