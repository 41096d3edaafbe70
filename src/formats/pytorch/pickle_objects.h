// Internal to the unpickler: the inert values a restricted pickle program can build. Objects live
// in one arena and refer to each other by index, so hostile self-references (a list appended to
// itself through the memo) cannot leak or recurse; destroying the arena is flat.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "formats/pytorch/pickle.h"

namespace llm::pickle {

using ObjectId = uint32_t;

enum class ObjectKind : uint8_t {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,  // BINUNICODE & co. (validated UTF-8) and protocol-2 BINSTRING
  kBytes,
  kTuple,
  kList,
  kDict,
  kSet,
  kGlobal,   // an allowlisted name; see GlobalName
  kStorage,  // the result of BINPERSID
  kTensor,   // the result of _rebuild_tensor{,_v2}
};

// The whole allowlist. A name outside it never becomes an object.
enum class GlobalName : uint8_t {
  kOrderedDict,        // collections.OrderedDict
  kRebuildTensor,      // torch._utils._rebuild_tensor
  kRebuildTensorV2,    // torch._utils._rebuild_tensor_v2
  kRebuildParameter,   // torch._utils._rebuild_parameter
  kStorageType,        // torch.<X>Storage; storage_dtype says which
  kTorchDType,         // torch.float32 & co.: inert values, never called
};

struct Object {
  ObjectKind kind = ObjectKind::kNone;
  bool ordered = false;                 // kDict: created as collections.OrderedDict
  int64_t integer = 0;                  // kInt; kBool (0 or 1)
  double real = 0;                      // kFloat
  std::string text;                     // kString, kBytes; kGlobal: "module.name"; kStorage: key
  std::vector<ObjectId> items;          // kTuple, kList, kSet; kDict: key0, value0, key1, value1 ...
  GlobalName global = GlobalName::kOrderedDict;      // kGlobal
  StorageDType storage_dtype = StorageDType::kFloat;  // kGlobal kStorageType, kStorage
  uint64_t storage_numel = 0;           // kStorage
  ObjectId storage = 0;                 // kTensor: its kStorage object
  uint64_t storage_offset = 0;          // kTensor, elements
  std::vector<int64_t> size;            // kTensor
  std::vector<int64_t> stride;          // kTensor
};

std::string_view object_kind_name(ObjectKind kind);

// Fills *out and returns true when `module.name` is on the allowlist; false otherwise (the
// caller refuses it). Names are compared as plain strings; nothing is imported.
bool resolve_global(std::string_view module, std::string_view name, Object* out);

// The `subject ... offset N: ` prefix is added by the caller; these return only the reason.
struct CallOutcome {
  bool ok = false;
  ErrorCode code = ErrorCode::kInvalidFormat;
  std::string reason;  // when !ok
  Object result;       // when ok
};

// REDUCE / NEWOBJ on `callable` with the argument tuple `args` (both already popped). Only the
// allowlisted constructors run, each after validating its arguments.
CallOutcome call_global(const std::vector<Object>& objects, const Object& callable, const Object& args, bool is_newobj);

// BINPERSID: turns ('storage', torch.XStorage, '<digits>', location, numel) into a kStorage object.
CallOutcome persistent_load(const std::vector<Object>& objects, const Object& pid);

// Walks the value STOP returned into the state-dict list.
Result<std::vector<PickledTensor>> extract_state_dict(const std::vector<Object>& objects, ObjectId root,
                                                      std::string_view subject);

// Printable form of a name from the file for an error message: non-printable bytes as \xNN, and
// at most 120 characters.
std::string printable(std::string_view text);

}  // namespace llm::pickle
