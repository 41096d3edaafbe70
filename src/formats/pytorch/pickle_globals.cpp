// The allowlist and the semantics of the few callables a torch.save state dict uses. Every
// argument is type-checked before an object is built (CVE-2026-24747 came from trusting them).
#include <array>
#include <utility>

#include "formats/pytorch/pickle_objects.h"
#include "util/str.h"

namespace llm {

std::string_view storage_dtype_name(StorageDType dtype) {
  switch (dtype) {
    case StorageDType::kFloat: return "Float";
    case StorageDType::kHalf: return "Half";
    case StorageDType::kBFloat16: return "BFloat16";
    case StorageDType::kDouble: return "Double";
    case StorageDType::kLong: return "Long";
    case StorageDType::kInt: return "Int";
    case StorageDType::kShort: return "Short";
    case StorageDType::kChar: return "Char";
    case StorageDType::kByte: return "Byte";
    case StorageDType::kBool: return "Bool";
    case StorageDType::kComplexFloat: return "ComplexFloat";
    case StorageDType::kComplexDouble: return "ComplexDouble";
  }
  return "?";
}

uint64_t storage_element_bytes(StorageDType dtype) {
  switch (dtype) {
    case StorageDType::kFloat: return 4;
    case StorageDType::kHalf: return 2;
    case StorageDType::kBFloat16: return 2;
    case StorageDType::kDouble: return 8;
    case StorageDType::kLong: return 8;
    case StorageDType::kInt: return 4;
    case StorageDType::kShort: return 2;
    case StorageDType::kChar: return 1;
    case StorageDType::kByte: return 1;
    case StorageDType::kBool: return 1;
    case StorageDType::kComplexFloat: return 8;
    case StorageDType::kComplexDouble: return 16;
  }
  return 1;
}

namespace pickle {
namespace {

constexpr std::array<std::pair<std::string_view, StorageDType>, 12> kStorageTypes = {{
    {"FloatStorage", StorageDType::kFloat},
    {"HalfStorage", StorageDType::kHalf},
    {"BFloat16Storage", StorageDType::kBFloat16},
    {"DoubleStorage", StorageDType::kDouble},
    {"LongStorage", StorageDType::kLong},
    {"IntStorage", StorageDType::kInt},
    {"ShortStorage", StorageDType::kShort},
    {"CharStorage", StorageDType::kChar},
    {"ByteStorage", StorageDType::kByte},
    {"BoolStorage", StorageDType::kBool},
    {"ComplexFloatStorage", StorageDType::kComplexFloat},
    {"ComplexDoubleStorage", StorageDType::kComplexDouble},
}};

constexpr std::array<std::string_view, 7> kTorchDTypes = {"float32", "float", "float16", "half",
                                                          "bfloat16", "float64", "int64"};
constexpr size_t kMaxTensorDims = 8;
constexpr size_t kMaxStorageKeyBytes = 20;

CallOutcome refuse(ErrorCode code, std::string reason) {
  return CallOutcome{.ok = false, .code = code, .reason = std::move(reason), .result = {}};
}

CallOutcome success(Object result) {
  return CallOutcome{.ok = true, .code = ErrorCode::kInternal, .reason = {}, .result = std::move(result)};
}

bool is_int_at_least_zero(const Object& object) { return object.kind == ObjectKind::kInt && object.integer >= 0; }

bool is_empty_dict_or_none(const Object& object) {
  return object.kind == ObjectKind::kNone || (object.kind == ObjectKind::kDict && object.items.empty());
}

// Reads a tuple of non-negative ints (a size or a stride) into `out`.
bool read_dims(const std::vector<Object>& objects, const Object& tuple, std::vector<int64_t>* out) {
  if (tuple.kind != ObjectKind::kTuple || tuple.items.size() > kMaxTensorDims) return false;
  out->clear();
  for (ObjectId id : tuple.items) {
    if (!is_int_at_least_zero(objects[id])) return false;
    out->push_back(objects[id].integer);
  }
  return true;
}

// _rebuild_tensor(storage, offset, size, stride) and
// _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]).
CallOutcome rebuild_tensor(const std::vector<Object>& objects, const Object& args, bool v2) {
  const std::string_view function = v2 ? "torch._utils._rebuild_tensor_v2" : "torch._utils._rebuild_tensor";
  const size_t count = args.items.size();
  if (v2 ? (count != 6 && count != 7) : count != 4) {
    return refuse(ErrorCode::kInvalidFormat, str(function, " called with ", count, " arguments; expected ",
                                                 v2 ? "6 or 7" : "4"));
  }
  const Object& storage = objects[args.items[0]];
  const Object& offset = objects[args.items[1]];
  Object tensor;
  tensor.kind = ObjectKind::kTensor;
  if (storage.kind != ObjectKind::kStorage) {
    return refuse(ErrorCode::kInvalidFormat, str(function, " argument 0 (storage) is a ", object_kind_name(storage.kind),
                                                 ", expected a storage from a persistent id"));
  }
  if (!is_int_at_least_zero(offset)) {
    return refuse(ErrorCode::kInvalidFormat, str(function, " argument 1 (storage offset) is a ",
                                                 object_kind_name(offset.kind), ", expected an int >= 0"));
  }
  if (!read_dims(objects, objects[args.items[2]], &tensor.size)) {
    return refuse(ErrorCode::kInvalidFormat, str(function, " argument 2 (size) is not a tuple of at most ",
                                                 kMaxTensorDims, " ints >= 0"));
  }
  if (!read_dims(objects, objects[args.items[3]], &tensor.stride) || tensor.stride.size() != tensor.size.size()) {
    return refuse(ErrorCode::kInvalidFormat, str(function, " argument 3 (stride) is not a tuple of ",
                                                 tensor.size.size(), " ints >= 0 (one per size dim)"));
  }
  if (v2) {
    if (objects[args.items[4]].kind != ObjectKind::kBool) {
      return refuse(ErrorCode::kInvalidFormat, str(function, " argument 4 (requires_grad) is a ",
                                                   object_kind_name(objects[args.items[4]].kind), ", expected a bool"));
    }
    if (!is_empty_dict_or_none(objects[args.items[5]])) {
      return refuse(ErrorCode::kInvalidFormat,
                    str(function, " argument 5 (backward_hooks) must be an empty OrderedDict"));
    }
    // torch appends a 7th argument only for tensors with extra state (conj/neg bits).
    if (count == 7 && !is_empty_dict_or_none(objects[args.items[6]])) {
      return refuse(ErrorCode::kUnsupported,
                    str(function, " argument 6 (tensor metadata, e.g. a conjugate or negative bit) is not supported"));
    }
  }
  tensor.storage = args.items[0];
  tensor.storage_offset = static_cast<uint64_t>(offset.integer);
  return success(std::move(tensor));
}

// _rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is its tensor here.
CallOutcome rebuild_parameter(const std::vector<Object>& objects, const Object& args) {
  if (args.items.size() != 3 || objects[args.items[0]].kind != ObjectKind::kTensor ||
      objects[args.items[1]].kind != ObjectKind::kBool || !is_empty_dict_or_none(objects[args.items[2]])) {
    return refuse(ErrorCode::kInvalidFormat,
                  "torch._utils._rebuild_parameter expects (tensor, bool, empty OrderedDict)");
  }
  return success(objects[args.items[0]]);
}

}  // namespace

std::string_view object_kind_name(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kNone: return "None";
    case ObjectKind::kBool: return "bool";
    case ObjectKind::kInt: return "int";
    case ObjectKind::kFloat: return "float";
    case ObjectKind::kString: return "str";
    case ObjectKind::kBytes: return "bytes";
    case ObjectKind::kTuple: return "tuple";
    case ObjectKind::kList: return "list";
    case ObjectKind::kDict: return "dict";
    case ObjectKind::kSet: return "set";
    case ObjectKind::kGlobal: return "global";
    case ObjectKind::kStorage: return "storage";
    case ObjectKind::kTensor: return "tensor";
  }
  return "?";
}

std::string printable(std::string_view text) {
  constexpr size_t kMaxChars = 120;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : text.substr(0, kMaxChars)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  if (text.size() > kMaxChars) out += "...";
  return out;
}

bool resolve_global(std::string_view module, std::string_view name, Object* out) {
  Object global;
  global.kind = ObjectKind::kGlobal;
  global.text = str(module, ".", name);
  bool allowed = false;
  if (module == "collections" && name == "OrderedDict") {
    global.global = GlobalName::kOrderedDict;
    allowed = true;
  } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
    global.global = GlobalName::kRebuildTensorV2;
    allowed = true;
  } else if (module == "torch._utils" && name == "_rebuild_tensor") {
    global.global = GlobalName::kRebuildTensor;
    allowed = true;
  } else if (module == "torch._utils" && name == "_rebuild_parameter") {
    global.global = GlobalName::kRebuildParameter;
    allowed = true;
  } else if (module == "torch") {
    for (const auto& [class_name, dtype] : kStorageTypes) {
      if (name == class_name) {
        global.global = GlobalName::kStorageType;
        global.storage_dtype = dtype;
        allowed = true;
      }
    }
    for (std::string_view dtype_name : kTorchDTypes) {
      if (name == dtype_name) {
        global.global = GlobalName::kTorchDType;
        allowed = true;
      }
    }
  }
  if (allowed) *out = std::move(global);
  return allowed;
}

CallOutcome call_global(const std::vector<Object>& objects, const Object& callable, const Object& args, bool is_newobj) {
  const std::string_view opcode = is_newobj ? "NEWOBJ" : "REDUCE";
  if (callable.kind != ObjectKind::kGlobal) {
    return refuse(ErrorCode::kInvalidFormat, str("refused ", opcode, " on a ", object_kind_name(callable.kind),
                                                 " (only allowlisted globals may be called; nothing was executed)"));
  }
  if (args.kind != ObjectKind::kTuple) {
    return refuse(ErrorCode::kInvalidFormat, str(opcode, " of '", callable.text, "' with a ",
                                                 object_kind_name(args.kind), " as arguments, expected a tuple"));
  }
  switch (callable.global) {
    case GlobalName::kOrderedDict: {
      if (!args.items.empty()) {
        return refuse(ErrorCode::kUnsupported, str(opcode, " of collections.OrderedDict with ", args.items.size(),
                                                   " arguments; only OrderedDict() is supported"));
      }
      Object dict;
      dict.kind = ObjectKind::kDict;
      dict.ordered = true;
      return success(std::move(dict));
    }
    case GlobalName::kRebuildTensor:
    case GlobalName::kRebuildTensorV2:
      if (is_newobj) break;
      return rebuild_tensor(objects, args, callable.global == GlobalName::kRebuildTensorV2);
    case GlobalName::kRebuildParameter:
      if (is_newobj) break;
      return rebuild_parameter(objects, args);
    case GlobalName::kStorageType:
    case GlobalName::kTorchDType:
      break;
  }
  return refuse(ErrorCode::kInvalidFormat,
                str("refused ", opcode, " of '", callable.text, "' (not callable here; nothing was executed)"));
}

CallOutcome persistent_load(const std::vector<Object>& objects, const Object& pid) {
  // torch.save writes ('storage', torch.<X>Storage, '<key>', '<location>', numel).
  constexpr std::string_view kExpected = "expected ('storage', torch.<X>Storage, '<digits>', location, numel >= 0)";
  if (pid.kind != ObjectKind::kTuple || pid.items.size() != 5) {
    return refuse(ErrorCode::kInvalidFormat, str("persistent id is a ", object_kind_name(pid.kind), " of ",
                                                 pid.items.size(), " items; ", kExpected));
  }
  const Object& tag = objects[pid.items[0]];
  const Object& type = objects[pid.items[1]];
  const Object& key = objects[pid.items[2]];
  const Object& location = objects[pid.items[3]];
  const Object& numel = objects[pid.items[4]];
  if (tag.kind != ObjectKind::kString || tag.text != "storage") {
    return refuse(ErrorCode::kInvalidFormat, str("persistent id tag is not 'storage'; ", kExpected));
  }
  if (type.kind != ObjectKind::kGlobal || type.global != GlobalName::kStorageType) {
    return refuse(ErrorCode::kInvalidFormat, str("persistent id storage type is a ", object_kind_name(type.kind),
                                                 " (", printable(type.text), "); ", kExpected));
  }
  bool key_ok = key.kind == ObjectKind::kString && !key.text.empty() && key.text.size() <= kMaxStorageKeyBytes;
  for (char c : key.text) key_ok = key_ok && c >= '0' && c <= '9';
  if (!key_ok) {
    return refuse(ErrorCode::kInvalidFormat, str("persistent id storage key '", printable(key.text),
                                                 "' is not 1 to ", kMaxStorageKeyBytes, " digits"));
  }
  if (location.kind != ObjectKind::kString || !is_int_at_least_zero(numel)) {
    return refuse(ErrorCode::kInvalidFormat, str("persistent id for storage '", key.text, "': ", kExpected));
  }
  Object storage;
  storage.kind = ObjectKind::kStorage;
  storage.text = key.text;
  storage.storage_dtype = type.storage_dtype;
  storage.storage_numel = static_cast<uint64_t>(numel.integer);
  return success(std::move(storage));
}

Result<std::vector<PickledTensor>> extract_state_dict(const std::vector<Object>& objects, ObjectId root,
                                                      std::string_view subject) {
  const Object& top = objects[root];
  if (top.kind != ObjectKind::kDict) {
    return make_error(ErrorCode::kUnsupported, str(subject, ": the pickled object is a ", object_kind_name(top.kind),
                                                   ", expected a dict of name -> tensor (a state dict)"));
  }
  auto all_tensors = [&](const Object& dict) {
    for (size_t i = 1; i < dict.items.size(); i += 2) {
      if (objects[dict.items[i]].kind != ObjectKind::kTensor) return false;
    }
    return true;
  };
  // Training scripts often save {"model": state_dict, ...}; accept that one level of nesting.
  const Object* state = &top;
  std::string where = "state dict";
  if (!all_tensors(top)) {
    for (size_t i = 0; i + 1 < top.items.size(); i += 2) {
      const Object& key = objects[top.items[i]];
      const Object& value = objects[top.items[i + 1]];
      if (key.kind == ObjectKind::kString && (key.text == "model" || key.text == "state_dict") &&
          value.kind == ObjectKind::kDict) {
        state = &value;
        where = str("state dict under '", key.text, "'");
        break;
      }
    }
  }
  std::vector<PickledTensor> tensors;
  tensors.reserve(state->items.size() / 2);
  for (size_t i = 0; i + 1 < state->items.size(); i += 2) {
    const Object& key = objects[state->items[i]];
    const Object& value = objects[state->items[i + 1]];
    if (key.kind != ObjectKind::kString) {
      return make_error(ErrorCode::kUnsupported, str(subject, ": ", where, " key ", i / 2, " is a ",
                                                     object_kind_name(key.kind), ", expected a str"));
    }
    if (value.kind != ObjectKind::kTensor) {
      return make_error(ErrorCode::kUnsupported, str(subject, ": ", where, " entry '", printable(key.text), "' is a ",
                                                     object_kind_name(value.kind), ", expected a tensor"));
    }
    const Object& storage = objects[value.storage];
    tensors.push_back(PickledTensor{.name = key.text,
                                    .storage_key = storage.text,
                                    .storage_dtype = storage.storage_dtype,
                                    .storage_numel = storage.storage_numel,
                                    .storage_offset = value.storage_offset,
                                    .size = value.size,
                                    .stride = value.stride});
  }
  return tensors;
}

}  // namespace pickle
}  // namespace llm
