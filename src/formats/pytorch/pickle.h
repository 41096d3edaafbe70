// A restricted unpickler for torch.save's data.pkl. It is a data parser, not an interpreter:
// GLOBAL names are matched against a fixed allowlist (never imported or resolved), REDUCE and
// NEWOBJ only build the few objects a state dict needs, and everything else is refused with the
// opcode or global named. Nothing in a pickle can execute code here.
// The rules follow torch/_weights_only_unpickler.py and reference/reliability.md section 1.5.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace llm {

// Element types of torch typed storages (torch.FloatStorage, torch.BFloat16Storage, ...).
enum class StorageDType : uint8_t {
  kFloat,
  kHalf,
  kBFloat16,
  kDouble,
  kLong,
  kInt,
  kShort,
  kChar,
  kByte,
  kBool,
  kComplexFloat,
  kComplexDouble,
};

// "BFloat16" for torch.BFloat16Storage.
std::string_view storage_dtype_name(StorageDType dtype);
uint64_t storage_element_bytes(StorageDType dtype);

// One entry of the state dict: a view of a storage record, not yet checked against the archive.
struct PickledTensor {
  std::string name;                        // the state-dict key
  std::string storage_key;                 // the record is "<archive>/data/<storage_key>"; digits only
  StorageDType storage_dtype = StorageDType::kFloat;
  uint64_t storage_numel = 0;              // elements, as the persistent id declares
  uint64_t storage_offset = 0;             // elements
  std::vector<int64_t> size;               // outermost first, each >= 0, at most 8 dims
  std::vector<int64_t> stride;             // elements, same length as size, each >= 0
};

struct PickleLimits {
  uint64_t max_stack_depth = 1u << 20;
  uint64_t max_memo_entries = 1u << 20;
  uint64_t max_objects = 1u << 21;          // a 405B state dict needs ~30k
  uint64_t max_container_items = 1u << 20;  // per tuple, list or dict
  uint64_t max_global_name_bytes = 256;
};

// Runs `program` (the bytes of data.pkl) and returns its state dict in pickle order. The result
// must be a dict or OrderedDict of name -> tensor, or {"model" | "state_dict": such a dict}.
// `subject` prefixes every error, e.g. "consolidated.00.pth: data.pkl".
Result<std::vector<PickledTensor>> parse_pickle(std::span<const std::byte> program, std::string_view subject,
                                                const PickleLimits& limits = {});

}  // namespace llm
