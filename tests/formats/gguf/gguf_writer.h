// Test-only GGUF writer: builds files byte by byte from a plain description, so tests can write
// valid files and every kind of broken one (wrong counts, offsets, types) without the reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llm::test {

// Value type ids (GGUF spec) and ggml tensor type ids, spelled out independently of the reader.
enum : uint32_t {
  kTypeU8 = 0, kTypeI8 = 1, kTypeU16 = 2, kTypeI16 = 3, kTypeU32 = 4, kTypeI32 = 5, kTypeF32 = 6,
  kTypeBool = 7, kTypeString = 8, kTypeArray = 9, kTypeU64 = 10, kTypeI64 = 11, kTypeF64 = 12,
};
enum : uint32_t {
  kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ8_0 = 8, kGgmlQ4_K = 12, kGgmlQ5_K = 13, kGgmlQ6_K = 14,
  kGgmlBF16 = 30,
};

// Little-endian appenders.
void put_u8(std::vector<uint8_t>& out, uint8_t value);
void put_u16(std::vector<uint8_t>& out, uint16_t value);
void put_u32(std::vector<uint8_t>& out, uint32_t value);
void put_u64(std::vector<uint8_t>& out, uint64_t value);
void put_f32(std::vector<uint8_t>& out, float value);
void put_string(std::vector<uint8_t>& out, std::string_view text);  // u64 length + bytes

struct TestKv {
  std::string key;
  uint32_t type = kTypeU32;
  std::vector<uint8_t> value;  // the encoded value bytes (for arrays: element type, count, elements)
};

TestKv kv_u32(std::string key, uint32_t value);
TestKv kv_i32(std::string key, int32_t value);
TestKv kv_u64(std::string key, uint64_t value);
TestKv kv_f32(std::string key, float value);
TestKv kv_bool(std::string key, bool value);
TestKv kv_string(std::string key, std::string_view value);
TestKv kv_array_strings(std::string key, const std::vector<std::string>& values);
TestKv kv_array_f32(std::string key, const std::vector<float>& values);
TestKv kv_array_i32(std::string key, const std::vector<int32_t>& values);
TestKv kv_array_u8(std::string key, const std::vector<uint8_t>& values);

struct TestTensor {
  std::string name;
  std::vector<uint64_t> ne;  // innermost first, as GGUF stores it
  uint32_t type = kGgmlF32;
  std::vector<uint8_t> data;
  std::optional<uint64_t> offset;  // written as is when set; else the running padded sum
};

struct TestGguf {
  uint32_t magic = 0x46554747;  // "GGUF"
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors;  // written instead of tensors.size() when set
  std::optional<uint64_t> n_kv;       // written instead of kvs.size() when set
  std::vector<TestKv> kvs;
  std::vector<TestTensor> tensors;
  uint32_t alignment = 32;  // padding used by the writer (set general.alignment to match)

  // Header, KVs, tensor infos, padding to `alignment`, then each tensor's data, padded to
  // `alignment` between tensors (not after the last one).
  std::vector<uint8_t> build() const;
  // Byte offset where build() puts the data section.
  uint64_t data_offset() const;
};

}  // namespace llm::test
