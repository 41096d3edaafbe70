// Shared helpers for the GGUF tests.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "formats/gguf/gguf.h"

namespace llm::test {

inline Result<GgufFile> parse(const std::vector<uint8_t>& bytes) {
  return parse_gguf(std::as_bytes(std::span<const uint8_t>(bytes)), "test.gguf");
}

// The error message of a failed parse, or "OK" (so EXPECT_THAT(..., HasSubstr) prints it).
inline std::string parse_error(const std::vector<uint8_t>& bytes) {
  Result<GgufFile> file = parse(bytes);
  return file.ok() ? std::string("OK") : file.error().message;
}

inline std::vector<uint8_t> filled(size_t n, uint8_t first) {
  std::vector<uint8_t> data(n);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(first + i);
  return data;
}

}  // namespace llm::test
