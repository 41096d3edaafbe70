// libFuzzer target: hostile bytes through the GGUF parser and every typed getter. Any crash,
// sanitizer report or leak is a finding; errors are the expected outcome.
//
// Seed corpus fuzz/corpus/gguf/minimal_v3.gguf (v3, one string KV, one f32 tensor of 2 elements)
// was written with:
//   python3 -c "import struct,sys; s=lambda t: struct.pack('<Q',len(t))+t; \
//     h=b'GGUF'+struct.pack('<IQQ',3,1,1)+s(b'general.name')+struct.pack('<I',8)+s(b'x'); \
//     h+=s(b't')+struct.pack('<IQIQ',1,2,0,0); h+=b'\0'*(-len(h)%32); \
//     sys.stdout.buffer.write(h+struct.pack('<ff',1.0,2.0))" > fuzz/corpus/gguf/minimal_v3.gguf
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "formats/gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kName = "fuzz.gguf";
  llm::Result<llm::GgufFile> file = llm::parse_gguf(std::as_bytes(std::span<const uint8_t>(data, size)), kName);
  if (!file.ok()) return 0;
  // Every getter on every key: type checks must hold for any stored type.
  const llm::GgufMetadata& metadata = file->metadata;
  size_t sink = 0;
  for (const auto& [key, value] : metadata.entries()) {
    sink += metadata.get_u32(key).ok() + metadata.get_i32(key).ok() + metadata.get_u64(key).ok() +
            metadata.get_i64(key).ok() + metadata.get_f32(key).ok() + metadata.get_bool(key).ok() +
            metadata.get_string(key).ok() + metadata.get_array_length(key).ok();
    if (auto strings = metadata.get_array_strings(key); strings.ok()) sink += strings->size();
    if (auto floats = metadata.get_array_floats(key); floats.ok()) sink += floats->size();
    if (auto ints = metadata.get_array_ints(key); ints.ok()) sink += ints->size();
  }
  // Touch the first and last byte of every tensor view: they must lie inside the input.
  for (const llm::TensorEntry& tensor : file->tensors.tensors()) {
    if (!tensor.bytes.empty()) sink += static_cast<size_t>(tensor.bytes.front()) + static_cast<size_t>(tensor.bytes.back());
  }
  return sink == SIZE_MAX ? 1 : 0;
}
