// GGUF parsing. Layout (little-endian): magic "GGUF", u32 version, u64 n_tensors, u64 n_kv;
// n_kv x (string key, u32 type, value); n_tensors x (string name, u32 n_dims, u64 ne[n_dims],
// u32 ggml type, u64 offset); padding to the alignment; the data section. A string is a u64 length
// and that many bytes; an array is a u32 element type, a u64 count and the elements.
#include <bit>
#include <cstring>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include "formats/gguf/ggml_type.h"
#include "formats/gguf/gguf.h"
#include "util/mapped_file.h"
#include "util/str.h"

namespace llm {
namespace {

static_assert(std::endian::native == std::endian::little, "the reader copies little-endian fields as host values");

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
// The smallest possible records, used to reject counts that the remaining bytes cannot hold
// before any loop runs: a KV is a key (u64 length + at least 1 byte), a u32 type and at least a
// 1-byte value; a tensor info is a name (u64 length + at least 1 byte), u32 n_dims, at least one
// u64 dim, u32 type and u64 offset.
constexpr uint64_t kMinKeyValueBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;
constexpr int kMaxDims = 4;

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<uint8_t>(text[i]);
    size_t extra;
    uint32_t code_point;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xE0) == 0xC0) {
      extra = 1;
      code_point = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      extra = 2;
      code_point = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      extra = 3;
      code_point = byte & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    // Overlong encodings, surrogates and values past U+10FFFF are invalid UTF-8.
    static constexpr uint32_t kMinForLength[4] = {0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[extra] || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

bool is_known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(GgufType::kFloat64); }

struct TensorInfo {
  std::string name;
  uint32_t n_dims = 0;
  int64_t ne[kMaxDims] = {1, 1, 1, 1};  // innermost first, as in the file
  const GgmlTypeInfo* type = nullptr;
  uint64_t offset = 0;  // relative to the data section
  uint64_t n_bytes = 0;
};

class Parser {
 public:
  Parser(std::span<const std::byte> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  Result<GgufFile> parse() {
    GgufFile file;
    uint64_t n_tensors = 0, n_kv = 0;
    if (Status s = read_header(file, &n_tensors, &n_kv); !s) return s.error();
    for (uint64_t i = 0; i < n_kv; ++i) {
      if (Status s = read_key_value(file.metadata, i); !s) return s.error();
    }
    if (Status s = read_alignment(file); !s) return s.error();
    std::vector<TensorInfo> infos;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      TensorInfo info;
      if (Status s = read_tensor_info(&info, i); !s) return s.error();
      infos.push_back(std::move(info));
    }
    if (Status s = place_tensors(file, infos); !s) return s.error();
    return file;
  }

 private:
  uint64_t remaining() const { return bytes_.size() - position_; }

  Error invalid(const std::string& message) const {
    return make_error(ErrorCode::kInvalidFormat, str(name_, ": ", message));
  }
  Error truncated(const std::string& what, uint64_t needed) const {
    return invalid(str("truncated file: ", what, " at byte ", position_, " needs ", needed, " bytes, ", remaining(),
                       " remain"));
  }

  template <class T>
  Status read(T* out, const std::string& what) {
    if (sizeof(T) > remaining()) return truncated(what, sizeof(T));
    std::memcpy(out, bytes_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return {};
  }

  // Length-checked before the string is allocated (llama.cpp #19003).
  Status read_string(std::string* out, uint64_t max_bytes, const std::string& what) {
    uint64_t length = 0;
    if (Status s = read(&length, what + " length"); !s) return s;
    if (length > max_bytes) return invalid(str(what, ": length ", length, " exceeds the limit of ", max_bytes, " bytes"));
    if (length > remaining()) return truncated(str(what, " (", length, " bytes)"), length);
    out->assign(reinterpret_cast<const char*>(bytes_.data() + position_), static_cast<size_t>(length));
    position_ += length;
    return {};
  }

  Status read_header(GgufFile& file, uint64_t* n_tensors, uint64_t* n_kv) {
    uint32_t magic = 0;
    if (Status s = read(&magic, "header magic"); !s) return s;
    if (magic != kMagic) return invalid(str("not a GGUF file: magic is 0x", std::hex, magic, ", expected 0x", kMagic, " (\"GGUF\")"));
    if (Status s = read(&file.version, "header version"); !s) return s;
    // A big-endian file's small version number reads as a multiple of 2^16 here.
    if (file.version != 0 && (file.version & 0xFFFF) == 0) {
      return make_error(ErrorCode::kUnsupported,
                        str(name_, ": big-endian GGUF (version field reads 0x", std::hex, file.version, std::dec,
                            ") is not supported; only little-endian files are"));
    }
    if (file.version == 1) {
      return make_error(ErrorCode::kUnsupported, str(name_, ": GGUF version 1 is not supported (supported: 2, 3)"));
    }
    if (file.version == 0 || file.version > 3) {
      return invalid(str("GGUF version ", file.version, " is not a known version (supported: 2, 3)"));
    }
    if (Status s = read(n_tensors, "header tensor count"); !s) return s;
    if (Status s = read(n_kv, "header key-value count"); !s) return s;
    // Counts are u64 on disk; a "negative" count is a huge one and fails these checks.
    if (*n_kv > kGgufMaxKeyValues || *n_kv > remaining() / kMinKeyValueBytes) {
      return invalid(str("key-value count ", *n_kv, " is impossible: at most ", kGgufMaxKeyValues,
                         " allowed and the remaining ", remaining(), " bytes hold at most ",
                         remaining() / kMinKeyValueBytes, " (truncated or corrupt file)"));
    }
    if (*n_tensors > kGgufMaxTensors || *n_tensors > remaining() / kMinTensorInfoBytes) {
      return invalid(str("tensor count ", *n_tensors, " is impossible: at most ", kGgufMaxTensors,
                         " allowed and the remaining ", remaining(), " bytes hold at most ",
                         remaining() / kMinTensorInfoBytes, " (truncated or corrupt file)"));
    }
    return {};
  }

  Status read_key_value(GgufMetadata& metadata, uint64_t index) {
    std::string key;
    if (Status s = read_string(&key, kGgufMaxStringBytes, str("key of key-value ", index)); !s) return s;
    if (key.empty()) return invalid(str("key-value ", index, ": empty key"));
    if (!is_valid_utf8(key)) return invalid(str("key-value ", index, ": key is not valid UTF-8"));
    if (metadata.has(key)) return invalid(str("duplicate key '", key, "'"));
    uint32_t type_id = 0;
    if (Status s = read(&type_id, str("type of key '", key, "'")); !s) return s;
    if (!is_known_value_type(type_id)) return invalid(str("key '", key, "': unknown value type ", type_id));
    GgufValue value;
    value.type = static_cast<GgufType>(type_id);
    if (value.type == GgufType::kArray) {
      if (Status s = read_array(&value, key); !s) return s;
    } else {
      if (Status s = read_scalar(&value, key); !s) return s;
    }
    return metadata.add(std::move(key), std::move(value));
  }

  Status read_scalar(GgufValue* value, const std::string& key) {
    const std::string what = str("value of key '", key, "'");
    switch (value->type) {
      case GgufType::kUint8: return read_widened<uint8_t, uint64_t>(value, what);
      case GgufType::kInt8: return read_widened<int8_t, int64_t>(value, what);
      case GgufType::kUint16: return read_widened<uint16_t, uint64_t>(value, what);
      case GgufType::kInt16: return read_widened<int16_t, int64_t>(value, what);
      case GgufType::kUint32: return read_widened<uint32_t, uint64_t>(value, what);
      case GgufType::kInt32: return read_widened<int32_t, int64_t>(value, what);
      case GgufType::kUint64: return read_widened<uint64_t, uint64_t>(value, what);
      case GgufType::kInt64: return read_widened<int64_t, int64_t>(value, what);
      case GgufType::kFloat32: return read_widened<float, double>(value, what);
      case GgufType::kFloat64: return read_widened<double, double>(value, what);
      case GgufType::kBool: {
        uint8_t byte = 0;
        if (Status s = read(&byte, what); !s) return s;
        if (byte > 1) return invalid(str("key '", key, "': bool value ", int{byte}, ", expected 0 or 1"));
        value->scalar = byte == 1;
        return {};
      }
      case GgufType::kString: {
        std::string text;
        if (Status s = read_string(&text, kGgufMaxStringBytes, what); !s) return s;
        value->scalar = std::move(text);
        return {};
      }
      case GgufType::kArray:
        break;
    }
    return invalid(str("key '", key, "': not a scalar type"));
  }

  template <class Stored, class Wide>
  Status read_widened(GgufValue* value, const std::string& what) {
    Stored stored{};
    if (Status s = read(&stored, what); !s) return s;
    value->scalar = static_cast<Wide>(stored);
    return {};
  }

  Status read_array(GgufValue* value, const std::string& key) {
    uint32_t element_id = 0;
    if (Status s = read(&element_id, str("array element type of key '", key, "'")); !s) return s;
    if (!is_known_value_type(element_id)) return invalid(str("key '", key, "': unknown array element type ", element_id));
    value->element_type = static_cast<GgufType>(element_id);
    if (value->element_type == GgufType::kArray) return invalid(str("key '", key, "': arrays of arrays are not supported"));
    uint64_t count = 0;
    if (Status s = read(&count, str("array length of key '", key, "'")); !s) return s;
    if (count > kGgufMaxArrayElements) {
      return invalid(str("key '", key, "': array of ", count, " elements exceeds the limit of ", kGgufMaxArrayElements));
    }
    value->array_length = count;
    if (value->element_type == GgufType::kString) {
      // Each string takes at least its 8-byte length.
      if (count > remaining() / 8) {
        return truncated(str("array of ", count, " strings of key '", key, "'"), count * 8);
      }
      value->array_text_ends.reserve(count);
      std::string element;
      for (uint64_t i = 0; i < count; ++i) {
        if (Status s = read_string(&element, kGgufMaxStringBytes, str("string ", i, " of key '", key, "'")); !s) return s;
        value->array_text += element;
        value->array_text_ends.push_back(value->array_text.size());
      }
      return {};
    }
    const uint64_t element_bytes = gguf_type_size(value->element_type);
    if (count > remaining() / element_bytes) {
      return truncated(str("array of ", count, " ", gguf_type_name(value->element_type), " of key '", key, "'"),
                       count * element_bytes);
    }
    const uint64_t total = count * element_bytes;
    const std::byte* begin = bytes_.data() + position_;
    if (value->element_type == GgufType::kBool) {
      for (uint64_t i = 0; i < count; ++i) {
        if (static_cast<uint8_t>(begin[i]) > 1) {
          return invalid(str("key '", key, "': bool element ", i, " is ", static_cast<int>(begin[i]), ", expected 0 or 1"));
        }
      }
    }
    value->array_bytes.assign(begin, begin + total);
    position_ += total;
    return {};
  }

  Status read_alignment(GgufFile& file) {
    const GgufValue* value = file.metadata.find("general.alignment");
    if (value == nullptr) return {};
    // Only uint32 is accepted, as in ggml: a wrong type means a broken writer or a hostile file.
    if (value->type != GgufType::kUint32) {
      return invalid(str("general.alignment must be of type uint32, got ",
                         value->type == GgufType::kArray ? "array" : gguf_type_name(value->type)));
    }
    uint64_t alignment = std::get<uint64_t>(value->scalar);
    if (alignment == 0 || !std::has_single_bit(alignment) || alignment > kGgufMaxAlignment) {
      return invalid(str("general.alignment = ", alignment, ": expected a non-zero power of two <= ", kGgufMaxAlignment));
    }
    file.alignment = static_cast<uint32_t>(alignment);
    return {};
  }

  Status read_tensor_info(TensorInfo* info, uint64_t index) {
    if (Status s = read_string(&info->name, kGgufMaxStringBytes, str("name of tensor ", index)); !s) return s;
    if (info->name.empty()) return invalid(str("tensor ", index, ": empty name"));
    if (info->name.size() > kGgufMaxTensorNameBytes) {
      return invalid(str("tensor ", index, ": name of ", info->name.size(), " bytes, expected at most ",
                         kGgufMaxTensorNameBytes));
    }
    if (!is_valid_utf8(info->name)) return invalid(str("tensor ", index, ": name is not valid UTF-8"));
    if (!names_.insert(info->name).second) return invalid(str("duplicate tensor name '", info->name, "'"));
    const std::string subject = str("tensor '", info->name, "'");
    if (Status s = read(&info->n_dims, subject + " n_dims"); !s) return s;
    if (info->n_dims < 1 || info->n_dims > kMaxDims) {
      return invalid(str(subject, ": n_dims = ", info->n_dims, ", expected 1..", kMaxDims));
    }
    for (uint32_t d = 0; d < info->n_dims; ++d) {
      if (Status s = read(&info->ne[d], str(subject, " ne[", d, "]")); !s) return s;
      if (info->ne[d] < 0) return invalid(str(subject, ": ne[", d, "] = ", info->ne[d], ", expected >= 0"));
    }
    uint32_t type_id = 0;
    if (Status s = read(&type_id, subject + " type"); !s) return s;
    info->type = ggml_type_info(type_id);
    if (info->type == nullptr) return invalid(str(subject, ": unknown ggml type id ", type_id));
    if (Status s = read(&info->offset, subject + " offset"); !s) return s;

    // Element count and byte size must be representable (CVE-2026-33298, llama.cpp #18674).
    uint64_t n_elements = 1;
    for (int d = 0; d < kMaxDims; ++d) {
      uint64_t dim = static_cast<uint64_t>(info->ne[d]);
      if (__builtin_mul_overflow(n_elements, dim, &n_elements) || n_elements > static_cast<uint64_t>(INT64_MAX)) {
        return invalid(str(subject, ": element count of dims ", shape_text(*info), " overflows int64"));
      }
    }
    const uint64_t block = static_cast<uint64_t>(info->type->block_size);
    if (static_cast<uint64_t>(info->ne[0]) % block != 0) {
      return invalid(str(subject, ": ne[0] = ", info->ne[0], " is not a multiple of the ", info->type->name,
                         " block size ", block));
    }
    uint64_t n_bytes = n_elements / block;
    if (__builtin_mul_overflow(n_bytes, static_cast<uint64_t>(info->type->block_bytes), &n_bytes) ||
        n_bytes > static_cast<uint64_t>(INT64_MAX)) {
      return invalid(str(subject, ": byte size of ", n_elements, " ", info->type->name, " elements overflows"));
    }
    info->n_bytes = n_bytes;
    return {};
  }

  static std::string shape_text(const TensorInfo& info) {
    std::string text = "ne [";
    for (uint32_t d = 0; d < info.n_dims; ++d) text += (d ? ", " : "") + std::to_string(info.ne[d]);
    return text + "]";
  }

  // x rounded up to a multiple of the power-of-two `alignment`, or nullopt on overflow.
  static std::optional<uint64_t> pad(uint64_t x, uint64_t alignment) {
    uint64_t padded = 0;
    if (__builtin_add_overflow(x, alignment - 1, &padded)) return std::nullopt;
    return padded & ~(alignment - 1);
  }

  Status place_tensors(GgufFile& file, const std::vector<TensorInfo>& infos) {
    // Offsets must be exactly the running padded sum: no gaps, no overlap, no reordering.
    uint64_t expected_offset = 0;
    for (const TensorInfo& info : infos) {
      if (info.offset != expected_offset) {
        return invalid(str("tensor '", info.name, "': data offset ", info.offset, ", expected ", expected_offset,
                           " (tensors must be stored contiguously in order, each padded to the alignment ",
                           file.alignment, ")"));
      }
      std::optional<uint64_t> padded = pad(info.n_bytes, file.alignment);
      if (!padded || __builtin_add_overflow(expected_offset, *padded, &expected_offset)) {
        return invalid(str("tensor '", info.name, "': data offsets overflow"));
      }
    }
    std::optional<uint64_t> data_offset = pad(position_, file.alignment);
    if (!data_offset) return invalid("data section offset overflows");
    file.data_offset = *data_offset;
    const uint64_t file_size = bytes_.size();
    if (!infos.empty() && file.data_offset > file_size) {
      return invalid(str("truncated file: the data section starts at byte ", file.data_offset, " but the file has ",
                         file_size, " bytes"));
    }
    const GgmlTypeInfo* unsupported = nullptr;
    std::string unsupported_tensor;
    for (const TensorInfo& info : infos) {
      const uint64_t available = file_size - file.data_offset;
      if (info.offset > available || info.n_bytes > available - info.offset) {
        return invalid(str("tensor '", info.name,
                           "' data is not within the file bounds: file is corrupted or incomplete (needs bytes [",
                           file.data_offset + info.offset, ", ", file.data_offset + info.offset + info.n_bytes,
                           "), the file has ", file_size, ")"));
      }
      if (!info.type->dtype) {
        if (unsupported == nullptr) {
          unsupported = info.type;
          unsupported_tensor = info.name;
        }
        continue;
      }
      TensorEntry entry;
      entry.name = info.name;
      entry.dtype = *info.type->dtype;
      for (int d = static_cast<int>(info.n_dims) - 1; d >= 0; --d) entry.shape.push_back(info.ne[d]);
      entry.bytes = bytes_.subspan(file.data_offset + info.offset, info.n_bytes);
      if (Status s = file.tensors.add(std::move(entry)); !s) return invalid(s.error().message);
    }
    if (unsupported != nullptr) {
      return make_error(ErrorCode::kUnsupported,
                        str(name_, ": tensor '", unsupported_tensor, "' has ggml type ", unsupported->name,
                            " (id ", unsupported->id, "), which is not supported (supported: f32, f16, bf16, q8_0, "
                            "q4_0, q4_K, q6_K)"));
    }
    return {};
  }

  std::span<const std::byte> bytes_;
  const std::string& name_;
  uint64_t position_ = 0;
  std::set<std::string> names_;
};

}  // namespace

Result<GgufFile> parse_gguf(std::span<const std::byte> bytes, const std::string& name) {
  // Every size is checked against the input before allocating, so these only fire on a real
  // out-of-memory; they must not cross the module boundary as exceptions.
  try {
    return Parser(bytes, name).parse();
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kOutOfMemory, str(name, ": out of memory while parsing GGUF metadata"));
  } catch (const std::length_error&) {
    return make_error(ErrorCode::kOutOfMemory, str(name, ": GGUF metadata too large to hold"));
  }
}

Result<GgufFile> read_gguf(const std::string& path) {
  Result<std::shared_ptr<const MappedFile>> mapped = MappedFile::open(path);
  if (!mapped) return mapped.error();
  Result<GgufFile> file = parse_gguf((*mapped)->bytes(), path);
  if (!file) return file.error();
  file->tensors.keep_alive(*mapped);
  return file;
}

}  // namespace llm
