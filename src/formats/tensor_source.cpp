#include "formats/tensor_source.h"

#include "util/str.h"

namespace llm {

Status TensorSource::add(TensorEntry entry) {
  if (index_.count(entry.name) != 0) {
    return make_error(ErrorCode::kInvalidFormat, str(entry.name, ": duplicate tensor name"));
  }
  uint64_t numel = 1;
  for (int i = 0; i < entry.shape.rank(); ++i) {
    if (entry.shape[i] < 0) {
      return make_error(ErrorCode::kInvalidFormat, str(entry.name, ": negative dimension in shape ", entry.shape));
    }
    uint64_t dim = static_cast<uint64_t>(entry.shape[i]);
    if (dim != 0 && numel > (uint64_t{1} << 62) / dim) {
      return make_error(ErrorCode::kInvalidFormat, str(entry.name, ": element count of shape ", entry.shape,
                                                       " overflows"));
    }
    numel *= dim;
  }
  Result<uint64_t> expected = dtype_bytes(entry.dtype, numel, entry.name);
  if (!expected) return expected.error();
  if (*expected != entry.bytes.size()) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(entry.name, ": ", dtype_name(entry.dtype), " ", entry.shape, " needs ", *expected,
                          " bytes, the file gives ", entry.bytes.size()));
  }
  index_.emplace(entry.name, tensors_.size());
  tensors_.push_back(std::move(entry));
  return {};
}

Status TensorSource::merge(TensorSource&& other) {
  for (auto& entry : other.tensors_) {
    Status status = add(std::move(entry));
    if (!status) return status;
  }
  for (auto& file : other.files_) files_.push_back(std::move(file));
  for (auto& [key, value] : other.metadata_) metadata_[key] = value;
  other = TensorSource();
  return {};
}

const TensorEntry* TensorSource::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace llm
