// GGUF key-value metadata, typed. Getters check the stored type before converting, so a value
// declared as one type can never be read as another (llama.cpp #26690: UINT8 scores read as
// float* gave a heap over-read).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "util/result.h"

namespace llm {

// Value type ids as stored in the file (gguf.h enum gguf_type).
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// "uint32", "array" ...; "unknown" for ids outside the enum.
std::string_view gguf_type_name(GgufType type);
// Bytes of one element of a fixed-size type; 0 for kString and kArray.
size_t gguf_type_size(GgufType type);
bool gguf_type_is_integer(GgufType type);

// One metadata value. Scalars widen losslessly (unsigned -> uint64, signed -> int64, float ->
// double) while `type` keeps the declared type. Arrays keep their elements compact (memory stays
// near the file's own bytes even for hostile files): numeric and bool elements as the file's
// little-endian bytes, strings concatenated with end offsets.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  GgufType element_type = GgufType::kUint8;  // arrays only
  std::variant<uint64_t, int64_t, double, bool, std::string> scalar;
  uint64_t array_length = 0;
  std::vector<std::byte> array_bytes;   // numeric/bool arrays: array_length * gguf_type_size(element_type)
  std::string array_text;               // string arrays: all strings back to back
  std::vector<uint64_t> array_text_ends;  // string arrays: end offset of string i in array_text
};

class GgufMetadata {
 public:
  // Rejects an empty key and a duplicate key.
  Status add(std::string key, GgufValue value);

  bool has(std::string_view key) const { return find(key) != nullptr; }
  const GgufValue* find(std::string_view key) const;
  // Keys in file order.
  const std::vector<std::pair<std::string, GgufValue>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  // Missing key -> kNotFound; wrong type -> kInvalidFormat naming key, expected and actual type.
  // Integer getters accept any integer type whose value fits the requested one.
  Result<uint32_t> get_u32(std::string_view key) const;
  Result<int32_t> get_i32(std::string_view key) const;
  Result<uint64_t> get_u64(std::string_view key) const;
  Result<int64_t> get_i64(std::string_view key) const;
  // float32 or float64 (narrowed).
  Result<float> get_f32(std::string_view key) const;
  Result<double> get_f64(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;

  // Number of elements of an array of any element type.
  Result<uint64_t> get_array_length(std::string_view key) const;
  Result<std::vector<std::string>> get_array_strings(std::string_view key) const;
  // Elements must be float32 (tokenizer.ggml.scores); anything else is a type mismatch.
  Result<std::vector<float>> get_array_floats(std::string_view key) const;
  // Elements of any integer type; uint64 values above INT64_MAX are an error.
  Result<std::vector<int64_t>> get_array_ints(std::string_view key) const;

 private:
  Result<const GgufValue*> lookup(std::string_view key) const;

  std::vector<std::pair<std::string, GgufValue>> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace llm
