#include "formats/gguf/gguf_writer.h"

#include <cstring>

namespace llm::test {

void put_u8(std::vector<uint8_t>& out, uint8_t value) { out.push_back(value); }
void put_u16(std::vector<uint8_t>& out, uint16_t value) {
  for (int i = 0; i < 2; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
void put_u32(std::vector<uint8_t>& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
void put_f32(std::vector<uint8_t>& out, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  put_u32(out, bits);
}
void put_string(std::vector<uint8_t>& out, std::string_view text) {
  put_u64(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
}

TestKv kv_u32(std::string key, uint32_t value) {
  TestKv kv{std::move(key), kTypeU32, {}};
  put_u32(kv.value, value);
  return kv;
}
TestKv kv_i32(std::string key, int32_t value) {
  TestKv kv{std::move(key), kTypeI32, {}};
  put_u32(kv.value, static_cast<uint32_t>(value));
  return kv;
}
TestKv kv_u64(std::string key, uint64_t value) {
  TestKv kv{std::move(key), kTypeU64, {}};
  put_u64(kv.value, value);
  return kv;
}
TestKv kv_f32(std::string key, float value) {
  TestKv kv{std::move(key), kTypeF32, {}};
  put_f32(kv.value, value);
  return kv;
}
TestKv kv_bool(std::string key, bool value) {
  TestKv kv{std::move(key), kTypeBool, {}};
  put_u8(kv.value, value ? 1 : 0);
  return kv;
}
TestKv kv_string(std::string key, std::string_view value) {
  TestKv kv{std::move(key), kTypeString, {}};
  put_string(kv.value, value);
  return kv;
}
TestKv kv_array_strings(std::string key, const std::vector<std::string>& values) {
  TestKv kv{std::move(key), kTypeArray, {}};
  put_u32(kv.value, kTypeString);
  put_u64(kv.value, values.size());
  for (const std::string& value : values) put_string(kv.value, value);
  return kv;
}
TestKv kv_array_f32(std::string key, const std::vector<float>& values) {
  TestKv kv{std::move(key), kTypeArray, {}};
  put_u32(kv.value, kTypeF32);
  put_u64(kv.value, values.size());
  for (float value : values) put_f32(kv.value, value);
  return kv;
}
TestKv kv_array_i32(std::string key, const std::vector<int32_t>& values) {
  TestKv kv{std::move(key), kTypeArray, {}};
  put_u32(kv.value, kTypeI32);
  put_u64(kv.value, values.size());
  for (int32_t value : values) put_u32(kv.value, static_cast<uint32_t>(value));
  return kv;
}
TestKv kv_array_u8(std::string key, const std::vector<uint8_t>& values) {
  TestKv kv{std::move(key), kTypeArray, {}};
  put_u32(kv.value, kTypeU8);
  put_u64(kv.value, values.size());
  for (uint8_t value : values) put_u8(kv.value, value);
  return kv;
}

namespace {

uint64_t padded(uint64_t x, uint64_t alignment) { return (x + alignment - 1) / alignment * alignment; }

std::vector<uint8_t> header_and_infos(const TestGguf& file) {
  std::vector<uint8_t> out;
  put_u32(out, file.magic);
  put_u32(out, file.version);
  put_u64(out, file.n_tensors.value_or(file.tensors.size()));
  put_u64(out, file.n_kv.value_or(file.kvs.size()));
  for (const TestKv& kv : file.kvs) {
    put_string(out, kv.key);
    put_u32(out, kv.type);
    out.insert(out.end(), kv.value.begin(), kv.value.end());
  }
  uint64_t running = 0;
  for (const TestTensor& tensor : file.tensors) {
    put_string(out, tensor.name);
    put_u32(out, static_cast<uint32_t>(tensor.ne.size()));
    for (uint64_t dim : tensor.ne) put_u64(out, dim);
    put_u32(out, tensor.type);
    put_u64(out, tensor.offset.value_or(running));
    running += padded(tensor.data.size(), file.alignment);
  }
  return out;
}

}  // namespace

uint64_t TestGguf::data_offset() const { return padded(header_and_infos(*this).size(), alignment); }

std::vector<uint8_t> TestGguf::build() const {
  std::vector<uint8_t> out = header_and_infos(*this);
  if (tensors.empty()) return out;
  out.resize(padded(out.size(), alignment), 0);
  for (size_t i = 0; i < tensors.size(); ++i) {
    out.insert(out.end(), tensors[i].data.begin(), tensors[i].data.end());
    if (i + 1 < tensors.size()) out.resize(padded(out.size(), alignment), 0);
  }
  return out;
}

}  // namespace llm::test
