// One safetensors file: header framing, JSON header validation, data section tiling.
// Nothing is allocated or viewed from a length, count or offset before it is checked against the
// bytes that are actually there.
#include <algorithm>
#include <array>
#include <optional>
#include <string_view>
#include <vector>

#include "formats/safetensors/safetensors.h"
#include "util/json.h"
#include "util/str.h"

namespace llm {
namespace {

constexpr uint64_t kMaxDim = uint64_t{1} << 53;  // JSON integers above 2^53 lose precision elsewhere
constexpr std::string_view kMetadataKey = "__metadata__";

// Every dtype the safetensors crate defines, with its width; `dtype` is set for the ones we read.
struct SafetensorsDType {
  std::string_view name;
  uint64_t bits;
  std::optional<DType> dtype;
};

constexpr std::array<SafetensorsDType, 22> kSafetensorsDTypes{{
    {"BOOL", 8, std::nullopt},        {"F4", 4, std::nullopt},           {"F6_E2M3", 6, std::nullopt},
    {"F6_E3M2", 6, std::nullopt},     {"U8", 8, std::nullopt},           {"I8", 8, std::nullopt},
    {"F8_E5M2", 8, std::nullopt},     {"F8_E4M3", 8, std::nullopt},      {"F8_E8M0", 8, std::nullopt},
    {"F8_E4M3FNUZ", 8, std::nullopt}, {"F8_E5M2FNUZ", 8, std::nullopt},  {"I16", 16, std::nullopt},
    {"U16", 16, std::nullopt},        {"F16", 16, DType::kF16},          {"BF16", 16, DType::kBF16},
    {"I32", 32, std::nullopt},        {"U32", 32, std::nullopt},         {"F32", 32, DType::kF32},
    {"C64", 64, std::nullopt},        {"F64", 64, std::nullopt},         {"I64", 64, std::nullopt},
    {"U64", 64, std::nullopt},
}};

const SafetensorsDType* find_dtype(std::string_view name) {
  for (const SafetensorsDType& entry : kSafetensorsDTypes) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

// A tensor's header entry after per-tensor checks, before the tiling check.
struct HeaderTensor {
  std::string name;
  const SafetensorsDType* dtype = nullptr;
  std::vector<uint64_t> dims;
  uint64_t begin = 0;
  uint64_t end = 0;
};

std::string dims_to_string(const std::vector<uint64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

uint64_t read_u64_le(std::span<const std::byte> bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<uint64_t>(bytes[static_cast<size_t>(i)]);
  return value;
}

// Offset of the first byte that breaks UTF-8 (overlongs, surrogates and > U+10FFFF included), or
// nullopt if `text` is valid.
std::optional<size_t> first_invalid_utf8(std::span<const std::byte> text) {
  size_t i = 0;
  const size_t n = text.size();
  auto byte_at = [&](size_t k) { return static_cast<unsigned>(text[k]); };
  while (i < n) {
    unsigned lead = byte_at(i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned low = 0x80, high = 0xBF;  // allowed range of the first continuation byte
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // overlong
      if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // overlong
      if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (n - i < length) return i;
    unsigned first = byte_at(i + 1);
    if (first < low || first > high) return i;
    for (size_t k = 2; k < length; ++k) {
      unsigned next = byte_at(i + k);
      if (next < 0x80 || next > 0xBF) return i;
    }
    i += length;
  }
  return std::nullopt;
}

// A JSON integer in [0, max]; floats, strings and negatives give nullopt.
std::optional<uint64_t> json_uint(const Json& value, uint64_t max) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v <= max) return v;
    return std::nullopt;
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v >= 0 && static_cast<uint64_t>(v) <= max) return static_cast<uint64_t>(v);
  }
  return std::nullopt;
}

Error invalid(const std::string& file, const std::string& message) {
  return make_error(ErrorCode::kInvalidFormat, str(file, ": ", message));
}

Error invalid_tensor(const std::string& file, const std::string& tensor, const std::string& message) {
  return make_error(ErrorCode::kInvalidFormat, str(file, ": tensor \"", tensor, "\": ", message));
}

Status read_metadata(const Json& value, const std::string& file, TensorSource& source) {
  if (!value.is_object()) {
    return invalid(file, str("__metadata__ must be an object of strings, got ", value.type_name()));
  }
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return invalid(file, str("__metadata__ value of \"", key, "\" must be a string, got ", item.type_name()));
    }
    source.metadata()[key] = item.get<std::string>();
  }
  return {};
}

// Per-tensor checks: dtype known, shape of integers in [0, 2^53], two ordered offsets, and a byte
// count (overflow-checked) equal to end - begin.
Result<HeaderTensor> read_tensor_entry(const std::string& name, const Json& entry, const std::string& file) {
  HeaderTensor tensor;
  tensor.name = name;
  if (!entry.is_object()) return invalid_tensor(file, name, str("entry must be an object, got ", entry.type_name()));

  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end()) return invalid_tensor(file, name, "missing \"dtype\"");
  if (!dtype_it->is_string()) {
    return invalid_tensor(file, name, str("\"dtype\" must be a string, got ", dtype_it->dump()));
  }
  const std::string& dtype_name = dtype_it->get_ref<const std::string&>();
  tensor.dtype = find_dtype(dtype_name);
  if (tensor.dtype == nullptr) return invalid_tensor(file, name, str("unknown dtype \"", dtype_name, "\""));

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end()) return invalid_tensor(file, name, "missing \"shape\"");
  if (!shape_it->is_array()) {
    return invalid_tensor(file, name, str("\"shape\" must be an array of integers, got ", shape_it->type_name()));
  }
  for (size_t i = 0; i < shape_it->size(); ++i) {
    std::optional<uint64_t> dim = json_uint((*shape_it)[i], kMaxDim);
    if (!dim) {
      return invalid_tensor(file, name, str("shape dim ", i, " must be an integer in [0, 2^53], got ",
                                            (*shape_it)[i].dump()));
    }
    tensor.dims.push_back(*dim);
  }

  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end()) return invalid_tensor(file, name, "missing \"data_offsets\"");
  std::optional<uint64_t> begin, end;
  if (offsets_it->is_array() && offsets_it->size() == 2) {
    begin = json_uint((*offsets_it)[0], UINT64_MAX);
    end = json_uint((*offsets_it)[1], UINT64_MAX);
  }
  if (!begin || !end) {
    return invalid_tensor(file, name, str("\"data_offsets\" must be [begin, end] with two non-negative integers, got ",
                                          offsets_it->dump()));
  }
  if (*end < *begin) {
    return invalid_tensor(file, name, str("data_offsets [", *begin, ", ", *end, "] end before they begin"));
  }
  tensor.begin = *begin;
  tensor.end = *end;

  // Checked in dim order like the crate, so [2^53, 2^53, 0] is an overflow, not zero elements.
  uint64_t numel = 1;
  for (uint64_t dim : tensor.dims) {
    if (dim != 0 && numel > UINT64_MAX / dim) {
      return invalid_tensor(file, name, str("element count of shape ", dims_to_string(tensor.dims), " overflows"));
    }
    numel *= dim;
  }
  if (numel > UINT64_MAX / tensor.dtype->bits) {
    return invalid_tensor(file, name, str("bit size of ", tensor.dtype->name, " shape ", dims_to_string(tensor.dims),
                                          " overflows"));
  }
  uint64_t bits = numel * tensor.dtype->bits;
  if (bits % 8 != 0) {
    return invalid_tensor(file, name, str(tensor.dtype->name, " shape ", dims_to_string(tensor.dims), " is ", bits,
                                          " bits, not a whole number of bytes"));
  }
  if (bits / 8 != tensor.end - tensor.begin) {
    return invalid_tensor(file, name, str(tensor.dtype->name, " shape ", dims_to_string(tensor.dims), " needs ",
                                          bits / 8, " bytes, data_offsets [", tensor.begin, ", ", tensor.end,
                                          "] give ", tensor.end - tensor.begin));
  }
  return tensor;
}

// The tensors, in offset order, must tile [0, data_size) exactly: each begins where the previous
// ends (no gap, no overlap: ten tensors claiming [0, 16] fail here) and the last ends at the file's
// end (no trailing bytes, so no polyglot files; no truncation).
Status check_tiling(std::vector<HeaderTensor>& tensors, uint64_t data_size, const std::string& file) {
  std::sort(tensors.begin(), tensors.end(), [](const HeaderTensor& a, const HeaderTensor& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  uint64_t expected_begin = 0;
  for (const HeaderTensor& tensor : tensors) {
    if (tensor.begin != expected_begin) {
      return invalid_tensor(file, tensor.name,
                            str("data_offsets [", tensor.begin, ", ", tensor.end, "] begin at ", tensor.begin,
                                ", expected ", expected_begin,
                                " where the previous tensor ends (tensors must tile the data section with no gap "
                                "or overlap)"));
    }
    expected_begin = tensor.end;
  }
  if (expected_begin < data_size) {
    return invalid(file, str("tensors end at data byte ", expected_begin, " but the data section has ", data_size,
                             " bytes: ", data_size - expected_begin, " trailing bytes after the last tensor"));
  }
  if (expected_begin > data_size) {
    return invalid(file, str("tensors need ", expected_begin, " data bytes but the file has only ", data_size,
                             ": the file is truncated"));
  }
  return {};
}

}  // namespace

Result<TensorSource> parse_safetensors(std::span<const std::byte> bytes, const std::string& name) {
  const std::string& file = name;
  if (bytes.size() < 8) {
    return invalid(file, str("file is ", bytes.size(), " bytes, smaller than the 8-byte header length field"));
  }
  const uint64_t header_size = read_u64_le(bytes.first(8));
  if (header_size > kSafetensorsMaxHeaderBytes) {
    return invalid(file, str("header length ", header_size, " exceeds the limit of ", kSafetensorsMaxHeaderBytes,
                             " bytes"));
  }
  const uint64_t after_length = bytes.size() - 8;
  if (header_size > after_length) {
    return invalid(file, str("header length ", header_size, " runs past the end of the file (", after_length,
                             " bytes follow the length field)"));
  }
  std::span<const std::byte> header = bytes.subspan(8, static_cast<size_t>(header_size));
  if (std::optional<size_t> bad = first_invalid_utf8(header)) {
    return invalid(file, str("header is not valid UTF-8 (bad byte at header offset ", *bad, ")"));
  }
  // Valid JSON never holds a raw NUL, and nlohmann's lexer takes one as the end of input, which
  // would let bytes hide after it.
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == std::byte{0}) return invalid(file, str("header holds a NUL byte at header offset ", i));
  }
  // Depth: root object > tensor object > shape array; anything deeper is malformed anyway.
  Result<Json> parsed = parse_json(
      std::string_view(reinterpret_cast<const char*>(header.data()), header.size()), str(file, ": header"), 8);
  if (!parsed) return parsed.error();
  const Json& root = *parsed;
  if (!root.is_object()) return invalid(file, str("header must be a JSON object, got ", root.type_name()));
  if (root.size() > kSafetensorsMaxTensors + 1) {  // + 1 for __metadata__
    return invalid(file, str("header has ", root.size(), " entries, more than the limit of ",
                             kSafetensorsMaxTensors, " tensors"));
  }

  TensorSource source;
  std::vector<HeaderTensor> tensors;
  tensors.reserve(root.size());
  for (const auto& [key, value] : root.items()) {
    if (key == kMetadataKey) {
      Status status = read_metadata(value, file, source);
      if (!status) return status.error();
      continue;
    }
    Result<HeaderTensor> tensor = read_tensor_entry(key, value, file);
    if (!tensor) return tensor.error();
    tensors.push_back(std::move(tensor).value());
  }
  if (tensors.size() > kSafetensorsMaxTensors) {
    return invalid(file, str("header has ", tensors.size(), " tensors, more than the limit of ",
                             kSafetensorsMaxTensors));
  }

  const uint64_t data_start = 8 + header_size;  // <= bytes.size(), checked above
  const uint64_t data_size = bytes.size() - data_start;
  Status tiling = check_tiling(tensors, data_size, file);
  if (!tiling) return tiling.error();

  // The file is well formed; only now say whether we can use what it holds.
  for (const HeaderTensor& tensor : tensors) {
    if (!tensor.dtype->dtype) {
      return make_error(ErrorCode::kUnsupported, str(file, ": tensor \"", tensor.name, "\": dtype ",
                                                     tensor.dtype->name, " is not supported (only F32, F16, BF16)"));
    }
    if (tensor.dims.size() > static_cast<size_t>(Shape::kMaxDims)) {
      return make_error(ErrorCode::kUnsupported, str(file, ": tensor \"", tensor.name, "\": rank ",
                                                     tensor.dims.size(), " is more than the ", Shape::kMaxDims,
                                                     " dims we support"));
    }
  }

  const std::span<const std::byte> data = bytes.subspan(static_cast<size_t>(data_start));
  for (HeaderTensor& tensor : tensors) {
    TensorEntry entry;
    entry.name = std::move(tensor.name);
    entry.dtype = *tensor.dtype->dtype;
    for (uint64_t dim : tensor.dims) entry.shape.push_back(static_cast<int64_t>(dim));  // dim <= 2^53
    entry.bytes = data.subspan(static_cast<size_t>(tensor.begin), static_cast<size_t>(tensor.end - tensor.begin));
    Status added = source.add(std::move(entry));
    if (!added) return invalid(file, added.error().message);
  }
  return source;
}

Result<TensorSource> read_safetensors(const std::string& path) {
  Result<std::shared_ptr<const MappedFile>> file = MappedFile::open(path);
  if (!file) return file.error();
  Result<TensorSource> source = parse_safetensors((*file)->bytes(), path);
  if (!source) return source.error();
  source->keep_alive(*file);
  return source;
}

}  // namespace llm
