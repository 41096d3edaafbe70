// PyTorch torch.save checkpoints (the zip format of torch >= 1.6, e.g. Meta's consolidated.NN.pth)
// as a TensorSource. Layout of the archive (every name under one top folder, any name):
//   <archive>/data.pkl         the state dict, pickled (read by the restricted unpickler)
//   <archive>/data/<key>       one record per storage, raw little-endian elements, 64-byte aligned
//   <archive>/byteorder        "little" (absent in older files, which are little-endian)
//   <archive>/version, .format_version, .storage_alignment, .data/serialization_id: ignored
// One file is one shard; merging Meta model-parallel shards is model/'s job.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "formats/pytorch/pickle.h"
#include "formats/tensor_source.h"
#include "util/result.h"

namespace llm {

// Maps the file and returns its tensors; the source keeps the mapping alive.
Result<TensorSource> read_pytorch_checkpoint(const std::string& path);

// Same, from bytes in memory (the fuzzer's entry). The tensors' bytes are views into `file`, which
// the caller keeps alive. `name` names the file in errors.
Result<TensorSource> parse_pytorch_checkpoint(std::span<const std::byte> file, const std::string& name);

}  // namespace llm
