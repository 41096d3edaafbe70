// libFuzzer target: one hostile safetensors file, parsed from memory (no disk). A crash,
// sanitizer report or leak is a finding; an error Result is the expected outcome for most inputs.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/safetensors/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  llm::Result<llm::TensorSource> source = llm::parse_safetensors(bytes, "fuzz.safetensors");
  if (!source) return 0;
  // Touch every byte of every accepted view, so ASan catches a view outside the input.
  unsigned checksum = 0;
  for (const llm::TensorEntry& entry : source->tensors()) {
    for (std::byte b : entry.bytes) checksum += static_cast<unsigned>(b);
  }
  volatile unsigned sink = checksum;
  (void)sink;
  return 0;
}
