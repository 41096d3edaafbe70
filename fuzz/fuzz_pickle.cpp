// libFuzzer target for the PyTorch checkpoint reader: one input goes through the whole path (ZIP
// reader, restricted unpickler, tensor reconstruction) and, separately, through the unpickler
// alone so that raw pickle mutations reach deep opcodes without first forming a valid ZIP.
// Seeds: fuzz/corpus/pickle/ (made by tools/fuzz/make_pickle_seeds.py).
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/pytorch/checkpoint.h"
#include "formats/pytorch/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  llm::Result<llm::TensorSource> source = llm::parse_pytorch_checkpoint(bytes, "fuzz.pth");
  if (source.ok()) {
    // Touch the first and last byte of every tensor so ASan checks each view is inside the input.
    unsigned checksum = 0;
    for (const llm::TensorEntry& tensor : source->tensors()) {
      if (tensor.bytes.empty()) continue;
      checksum += std::to_integer<unsigned>(tensor.bytes.front()) + std::to_integer<unsigned>(tensor.bytes.back());
    }
    volatile unsigned sink = checksum;
    (void)sink;
  }
  (void)llm::parse_pickle(bytes, "fuzz: data.pkl");
  return 0;
}
