// A read-only ZIP reader for torch.save archives: STORED entries only, read in place (zero copy).
// The archive is hostile: it is parsed from the end (EOCD, ZIP64 locator/record, central
// directory), and every local header is cross-checked against the central directory and the
// file size before any entry's bytes are exposed (pytorch#185440: a local header that declared
// 2.2 GB gave an out-of-bounds memcpy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace llm {

struct ZipEntry {
  std::string name;                 // as stored, '/'-separated, validated (no "..", not absolute)
  uint64_t data_offset = 0;         // of the entry's first byte in the archive
  std::span<const std::byte> data;  // the stored bytes, a view into the archive
};

struct ZipLimits {
  uint64_t max_entries = 100'000;    // a Llama checkpoint has a few thousand records at most
  uint64_t max_name_bytes = 4096;
};

// Lists the entries of the ZIP archive `archive` (the whole file). `subject` names the file in
// errors. Refuses compressed or encrypted entries, duplicate names, unsafe names, multi-disk
// archives, and any header that disagrees with another or points outside the file.
Result<std::vector<ZipEntry>> read_zip(std::span<const std::byte> archive, std::string_view subject,
                                       const ZipLimits& limits = {});

}  // namespace llm
