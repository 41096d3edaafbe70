// TensorSource: what every file format becomes. A list of named tensors, each with dtype, shape
// (outermost dim first) and its bytes as a view into a memory-mapped file (zero copy).
// Below this line there is no model knowledge: names are the file's own.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"
#include "util/mapped_file.h"
#include "util/result.h"

namespace llm {

struct TensorEntry {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  std::span<const std::byte> bytes;  // exactly dtype_bytes(dtype, shape.numel()) bytes
};

class TensorSource {
 public:
  // Adds a tensor; rejects duplicate names and a byte count that does not match dtype x shape.
  Status add(TensorEntry entry);
  // Keeps a mapping alive for as long as the views into it are used.
  void keep_alive(std::shared_ptr<const MappedFile> file) { files_.push_back(std::move(file)); }
  // Merges another source (e.g. the next safetensors shard); duplicate names are an error.
  Status merge(TensorSource&& other);

  const std::vector<TensorEntry>& tensors() const { return tensors_; }
  const TensorEntry* find(const std::string& name) const;
  size_t size() const { return tensors_.size(); }

  // String metadata carried by the format (GGUF KVs are exposed by the GGUF reader itself;
  // this holds e.g. safetensors __metadata__).
  std::map<std::string, std::string>& metadata() { return metadata_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::vector<TensorEntry> tensors_;
  std::map<std::string, size_t> index_;
  std::vector<std::shared_ptr<const MappedFile>> files_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace llm
