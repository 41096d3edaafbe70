// Tensor reconstruction: from the unpickled (storage, offset, size, stride) views and the archive's
// storage records to TensorEntry byte ranges. Nothing from data.pkl is trusted: each storage's
// declared element count must match its record exactly (CVE-2026-24747), and each view must fit
// inside its storage with overflow-checked arithmetic.
#include "formats/pytorch/checkpoint.h"

#include <map>
#include <optional>
#include <string_view>

#include "formats/pytorch/zip.h"
#include "util/str.h"

namespace llm {
namespace {

constexpr std::string_view kPickleSuffix = "/data.pkl";

// a * b, or nullopt on overflow.
std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + ")";
}

std::optional<DType> to_dtype(StorageDType dtype) {
  switch (dtype) {
    case StorageDType::kFloat: return DType::kF32;
    case StorageDType::kHalf: return DType::kF16;
    case StorageDType::kBFloat16: return DType::kBF16;
    case StorageDType::kDouble:
    case StorageDType::kLong:
    case StorageDType::kInt:
    case StorageDType::kShort:
    case StorageDType::kChar:
    case StorageDType::kByte:
    case StorageDType::kBool:
    case StorageDType::kComplexFloat:
    case StorageDType::kComplexDouble:
      return std::nullopt;
  }
  return std::nullopt;
}

// Refuses the pre-1.6 formats (a raw pickle or a tar) with a clear message instead of a ZIP error.
Status check_not_legacy(std::span<const std::byte> file, const std::string& name) {
  const bool zip = file.size() >= 4 && file[0] == std::byte{'P'} && file[1] == std::byte{'K'};
  if (zip) return {};
  const bool raw_pickle = file.size() >= 2 && file[0] == std::byte{0x80} && std::to_integer<int>(file[1]) <= 5;
  const bool tar = file.size() >= 262 && std::string_view(reinterpret_cast<const char*>(file.data()) + 257, 5) == "ustar";
  if (raw_pickle || tar) {
    return make_error(ErrorCode::kUnsupported,
                      str(name, ": legacy (pre-1.6) torch.save format (", raw_pickle ? "raw pickle" : "tar",
                          ") is not supported; re-save it with torch >= 1.6 or convert it to safetensors"));
  }
  return {};
}

struct StorageRecord {
  std::string_view record_name;
  std::span<const std::byte> bytes;
  StorageDType dtype = StorageDType::kFloat;
  uint64_t numel = 0;
  bool seen = false;  // dtype/numel were set by the first tensor that uses this storage
};

Result<TensorEntry> reconstruct(const PickledTensor& tensor, StorageRecord& storage, const std::string& name) {
  const std::string subject = str(name, ": tensor '", tensor.name, "'");
  const uint64_t element_bytes = storage_element_bytes(tensor.storage_dtype);
  // Every view of one storage must agree on what the storage is.
  if (storage.seen && (storage.dtype != tensor.storage_dtype || storage.numel != tensor.storage_numel)) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": storage '", tensor.storage_key, "' is declared as ", tensor.storage_numel, " ",
                          storage_dtype_name(tensor.storage_dtype), " elements here and as ", storage.numel, " ",
                          storage_dtype_name(storage.dtype), " elements by an earlier tensor"));
  }
  storage.seen = true;
  storage.dtype = tensor.storage_dtype;
  storage.numel = tensor.storage_numel;
  const std::optional<uint64_t> storage_bytes = checked_mul(tensor.storage_numel, element_bytes);
  if (!storage_bytes || *storage_bytes != storage.bytes.size()) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": storage '", tensor.storage_key, "' declares ", tensor.storage_numel, " x ",
                          storage_dtype_name(tensor.storage_dtype), " (", element_bytes, " bytes each) but record '",
                          storage.record_name, "' holds ", storage.bytes.size(), " bytes"));
  }
  // numel of the view and the last element it touches: offset + sum((size_i - 1) * stride_i).
  uint64_t numel = 1;
  std::optional<uint64_t> last = tensor.storage_offset;
  for (size_t i = 0; i < tensor.size.size(); ++i) {
    const auto size = static_cast<uint64_t>(tensor.size[i]);
    const auto stride = static_cast<uint64_t>(tensor.stride[i]);
    const std::optional<uint64_t> product = checked_mul(numel, size);
    if (!product || *product > (uint64_t{1} << 62)) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": size ", dims_text(tensor.size), " overflows"));
    }
    numel = *product;
    if (size > 0 && last) {
      const std::optional<uint64_t> step = checked_mul(size - 1, stride);
      last = step ? checked_add(*last, *step) : std::nullopt;
    }
  }
  const bool in_range = numel == 0 ? tensor.storage_offset <= tensor.storage_numel
                                   : last.has_value() && *last < tensor.storage_numel;
  if (!in_range) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": view (offset ", tensor.storage_offset, ", size ", dims_text(tensor.size),
                          ", stride ", dims_text(tensor.stride), ") reaches past the end of storage '",
                          tensor.storage_key, "' of ", tensor.storage_numel, " elements"));
  }
  // Row-major contiguity; a dim of size 1 may carry any stride (PyTorch treats it as contiguous).
  uint64_t expected_stride = 1;
  for (size_t i = tensor.size.size(); numel > 0 && i-- > 0;) {
    if (tensor.size[i] != 1 && static_cast<uint64_t>(tensor.stride[i]) != expected_stride) {
      return make_error(ErrorCode::kUnsupported,
                        str(subject, ": non-contiguous tensor views are not supported (size ", dims_text(tensor.size),
                            ", stride ", dims_text(tensor.stride), ")"));
    }
    expected_stride *= static_cast<uint64_t>(tensor.size[i]);
  }
  const std::optional<DType> dtype = to_dtype(tensor.storage_dtype);
  if (!dtype) {
    return make_error(ErrorCode::kUnsupported, str(subject, ": storage dtype ", storage_dtype_name(tensor.storage_dtype),
                                                   " is not supported (expected BFloat16, Half or Float)"));
  }
  TensorEntry entry;
  entry.name = tensor.name;
  entry.dtype = *dtype;
  for (int64_t dim : tensor.size) entry.shape.push_back(dim);  // <= 8 dims, checked by the unpickler
  // In range by the check above: offset + numel <= storage numel, both times element_bytes fit.
  entry.bytes = storage.bytes.subspan(tensor.storage_offset * element_bytes, numel * element_bytes);
  return entry;
}

}  // namespace

Result<TensorSource> parse_pytorch_checkpoint(std::span<const std::byte> file, const std::string& name) {
  Status legacy = check_not_legacy(file, name);
  if (!legacy) return legacy.error();
  Result<std::vector<ZipEntry>> entries = read_zip(file, name);
  if (!entries) return entries.error();

  // The archive folder is the one holding data.pkl; torch names it after the file or "archive".
  const ZipEntry* pickle = nullptr;
  for (const ZipEntry& entry : *entries) {
    const std::string_view entry_name = entry.name;
    if (entry_name.size() > kPickleSuffix.size() && entry_name.ends_with(kPickleSuffix) &&
        entry_name.find('/') == entry_name.size() - kPickleSuffix.size()) {
      if (pickle != nullptr) {
        return make_error(ErrorCode::kInvalidFormat, str(name, ": two pickles, '", pickle->name, "' and '", entry.name,
                                                         "'; expected one <archive>/data.pkl"));
      }
      pickle = &entry;
    }
  }
  if (pickle == nullptr) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(name, ": no <archive>/data.pkl record among ", entries->size(),
                          " ZIP entries; not a torch.save checkpoint"));
  }
  const std::string prefix = pickle->name.substr(0, pickle->name.size() - kPickleSuffix.size() + 1);  // "<archive>/"
  std::map<std::string, StorageRecord, std::less<>> storages;  // key -> record under <archive>/data/
  for (const ZipEntry& entry : *entries) {
    const std::string_view entry_name = entry.name;
    if (entry_name == prefix + "byteorder") {
      const std::string_view order(reinterpret_cast<const char*>(entry.data.data()), entry.data.size());
      if (order != "little") {
        return make_error(ErrorCode::kUnsupported, str(name, ": byte order is '", order.substr(0, 16),
                                                       "'; only little-endian checkpoints are supported"));
      }
    }
    const std::string data_prefix = prefix + "data/";
    if (entry_name.starts_with(data_prefix)) {
      storages[std::string(entry_name.substr(data_prefix.size()))] =
          StorageRecord{.record_name = entry_name, .bytes = entry.data};
    }
  }

  Result<std::vector<PickledTensor>> tensors = parse_pickle(pickle->data, str(name, ": data.pkl"));
  if (!tensors) return tensors.error();
  TensorSource source;
  for (const PickledTensor& tensor : *tensors) {
    auto record = storages.find(tensor.storage_key);
    if (record == storages.end()) {
      return make_error(ErrorCode::kInvalidFormat, str(name, ": tensor '", tensor.name, "': storage record '", prefix,
                                                       "data/", tensor.storage_key, "' is missing"));
    }
    Result<TensorEntry> entry = reconstruct(tensor, record->second, name);
    if (!entry) return entry.error();
    Status added = source.add(std::move(*entry));
    if (!added) return make_error(added.error().code, str(name, ": ", added.error().message));
  }
  return source;
}

Result<TensorSource> read_pytorch_checkpoint(const std::string& path) {
  Result<std::shared_ptr<const MappedFile>> file = MappedFile::open(path);
  if (!file) return file.error();
  Result<TensorSource> source = parse_pytorch_checkpoint((*file)->bytes(), path);
  if (!source) return source.error();
  source->keep_alive(*file);
  return source;
}

}  // namespace llm
