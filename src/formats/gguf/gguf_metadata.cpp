#include "formats/gguf/gguf_metadata.h"

#include <bit>
#include <cstring>
#include <limits>

#include "util/check.h"
#include "util/str.h"

namespace llm {

static_assert(std::endian::native == std::endian::little, "GGUF arrays are decoded as little-endian host values");

std::string_view gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::kUint8: return "uint8";
    case GgufType::kInt8: return "int8";
    case GgufType::kUint16: return "uint16";
    case GgufType::kInt16: return "int16";
    case GgufType::kUint32: return "uint32";
    case GgufType::kInt32: return "int32";
    case GgufType::kFloat32: return "float32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kUint64: return "uint64";
    case GgufType::kInt64: return "int64";
    case GgufType::kFloat64: return "float64";
  }
  return "unknown";
}

size_t gguf_type_size(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

bool gguf_type_is_integer(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kUint16:
    case GgufType::kInt16:
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kUint64:
    case GgufType::kInt64:
      return true;
    case GgufType::kFloat32:
    case GgufType::kBool:
    case GgufType::kString:
    case GgufType::kArray:
    case GgufType::kFloat64:
      return false;
  }
  return false;
}

namespace {

std::string describe_type(const GgufValue& value) {
  if (value.type == GgufType::kArray) return str("array of ", gguf_type_name(value.element_type));
  return std::string(gguf_type_name(value.type));
}

Error mismatch(std::string_view key, std::string_view expected, const GgufValue& value) {
  return make_error(ErrorCode::kInvalidFormat,
                    str("gguf key '", key, "': expected ", expected, ", got ", describe_type(value)));
}

// An integer scalar as a (negative?, magnitude) pair so every range check is exact.
struct WideInt {
  bool negative = false;
  uint64_t magnitude = 0;
};

WideInt wide_int(const GgufValue& value) {
  if (const auto* u = std::get_if<uint64_t>(&value.scalar)) return {false, *u};
  int64_t i = std::get<int64_t>(value.scalar);
  if (i >= 0) return {false, static_cast<uint64_t>(i)};
  return {true, static_cast<uint64_t>(-(i + 1)) + 1};  // |INT64_MIN| without overflow
}

template <class T>
Result<T> get_integer(const GgufMetadata& metadata, std::string_view key, std::string_view expected) {
  const GgufValue* value = metadata.find(key);
  if (value == nullptr) return make_error(ErrorCode::kNotFound, str("gguf key '", key, "' is missing"));
  if (!gguf_type_is_integer(value->type)) return mismatch(key, expected, *value);
  WideInt wide = wide_int(*value);
  using Limits = std::numeric_limits<T>;
  bool fits = wide.negative ? (Limits::is_signed && wide.magnitude <= static_cast<uint64_t>(Limits::max()) + 1)
                            : wide.magnitude <= static_cast<uint64_t>(Limits::max());
  if (!fits) {
    return make_error(ErrorCode::kInvalidFormat, str("gguf key '", key, "': value ", wide.negative ? "-" : "",
                                                     wide.magnitude, " does not fit in ", expected));
  }
  if (wide.negative) return static_cast<T>(-static_cast<int64_t>(wide.magnitude - 1) - 1);
  return static_cast<T>(wide.magnitude);
}

template <class T>
T load_element(const std::vector<std::byte>& bytes, uint64_t index) {
  T element;
  std::memcpy(&element, bytes.data() + index * sizeof(T), sizeof(T));
  return element;
}

}  // namespace

Status GgufMetadata::add(std::string key, GgufValue value) {
  if (key.empty()) return make_error(ErrorCode::kInvalidFormat, "gguf metadata: empty key");
  if (index_.count(key) != 0) return make_error(ErrorCode::kInvalidFormat, str("gguf metadata: duplicate key '", key, "'"));
  index_.emplace(key, entries_.size());
  entries_.emplace_back(std::move(key), std::move(value));
  return {};
}

const GgufValue* GgufMetadata::find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Result<const GgufValue*> GgufMetadata::lookup(std::string_view key) const {
  const GgufValue* value = find(key);
  if (value == nullptr) return make_error(ErrorCode::kNotFound, str("gguf key '", key, "' is missing"));
  return value;
}

Result<uint32_t> GgufMetadata::get_u32(std::string_view key) const { return get_integer<uint32_t>(*this, key, "uint32"); }
Result<int32_t> GgufMetadata::get_i32(std::string_view key) const { return get_integer<int32_t>(*this, key, "int32"); }
Result<uint64_t> GgufMetadata::get_u64(std::string_view key) const { return get_integer<uint64_t>(*this, key, "uint64"); }
Result<int64_t> GgufMetadata::get_i64(std::string_view key) const { return get_integer<int64_t>(*this, key, "int64"); }

Result<double> GgufMetadata::get_f64(std::string_view key) const {
  Result<const GgufValue*> value = lookup(key);
  if (!value) return value.error();
  if ((*value)->type != GgufType::kFloat32 && (*value)->type != GgufType::kFloat64) {
    return mismatch(key, "float32 or float64", **value);
  }
  return std::get<double>((*value)->scalar);
}

Result<float> GgufMetadata::get_f32(std::string_view key) const {
  Result<double> value = get_f64(key);
  if (!value) return value.error();
  return static_cast<float>(*value);
}

Result<bool> GgufMetadata::get_bool(std::string_view key) const {
  Result<const GgufValue*> value = lookup(key);
  if (!value) return value.error();
  if ((*value)->type != GgufType::kBool) return mismatch(key, "bool", **value);
  return std::get<bool>((*value)->scalar);
}

Result<std::string> GgufMetadata::get_string(std::string_view key) const {
  Result<const GgufValue*> value = lookup(key);
  if (!value) return value.error();
  if ((*value)->type != GgufType::kString) return mismatch(key, "string", **value);
  return std::get<std::string>((*value)->scalar);
}

Result<uint64_t> GgufMetadata::get_array_length(std::string_view key) const {
  Result<const GgufValue*> value = lookup(key);
  if (!value) return value.error();
  if ((*value)->type != GgufType::kArray) return mismatch(key, "an array", **value);
  return (*value)->array_length;
}

Result<std::vector<std::string>> GgufMetadata::get_array_strings(std::string_view key) const {
  Result<const GgufValue*> found = lookup(key);
  if (!found) return found.error();
  const GgufValue& value = **found;
  if (value.type != GgufType::kArray || value.element_type != GgufType::kString) {
    return mismatch(key, "array of string", value);
  }
  std::vector<std::string> strings;
  strings.reserve(value.array_text_ends.size());
  uint64_t begin = 0;
  for (uint64_t end : value.array_text_ends) {
    strings.push_back(value.array_text.substr(begin, end - begin));
    begin = end;
  }
  return strings;
}

Result<std::vector<float>> GgufMetadata::get_array_floats(std::string_view key) const {
  Result<const GgufValue*> found = lookup(key);
  if (!found) return found.error();
  const GgufValue& value = **found;
  if (value.type != GgufType::kArray || value.element_type != GgufType::kFloat32) {
    return mismatch(key, "array of float32", value);
  }
  LLM_CHECK(value.array_bytes.size() == value.array_length * sizeof(float), "gguf key '", key, "': ",
            value.array_bytes.size(), " bytes for ", value.array_length, " float32");
  std::vector<float> floats(value.array_length);
  // An empty array has no bytes (data() may be null, which memcpy must never see).
  if (!floats.empty()) std::memcpy(floats.data(), value.array_bytes.data(), floats.size() * sizeof(float));
  return floats;
}

Result<std::vector<int64_t>> GgufMetadata::get_array_ints(std::string_view key) const {
  Result<const GgufValue*> found = lookup(key);
  if (!found) return found.error();
  const GgufValue& value = **found;
  if (value.type != GgufType::kArray || !gguf_type_is_integer(value.element_type)) {
    return mismatch(key, "array of integers", value);
  }
  LLM_CHECK(value.array_bytes.size() == value.array_length * gguf_type_size(value.element_type), "gguf key '", key,
            "': ", value.array_bytes.size(), " bytes for ", value.array_length, " ", gguf_type_name(value.element_type));
  std::vector<int64_t> ints(value.array_length);
  const std::vector<std::byte>& bytes = value.array_bytes;
  for (uint64_t i = 0; i < value.array_length; ++i) {
    switch (value.element_type) {
      case GgufType::kUint8: ints[i] = load_element<uint8_t>(bytes, i); break;
      case GgufType::kInt8: ints[i] = load_element<int8_t>(bytes, i); break;
      case GgufType::kUint16: ints[i] = load_element<uint16_t>(bytes, i); break;
      case GgufType::kInt16: ints[i] = load_element<int16_t>(bytes, i); break;
      case GgufType::kUint32: ints[i] = load_element<uint32_t>(bytes, i); break;
      case GgufType::kInt32: ints[i] = load_element<int32_t>(bytes, i); break;
      case GgufType::kInt64: ints[i] = load_element<int64_t>(bytes, i); break;
      case GgufType::kUint64: {
        uint64_t element = load_element<uint64_t>(bytes, i);
        if (element > static_cast<uint64_t>(INT64_MAX)) {
          return make_error(ErrorCode::kInvalidFormat,
                            str("gguf key '", key, "': element ", i, " = ", element, " does not fit in int64"));
        }
        ints[i] = static_cast<int64_t>(element);
        break;
      }
      case GgufType::kFloat32:
      case GgufType::kBool:
      case GgufType::kString:
      case GgufType::kArray:
      case GgufType::kFloat64:
        return mismatch(key, "array of integers", value);
    }
  }
  return ints;
}

}  // namespace llm
