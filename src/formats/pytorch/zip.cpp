#include "formats/pytorch/zip.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "util/str.h"

namespace llm {
namespace {

// Record signatures and fixed sizes from PKWARE APPNOTE.TXT 6.3.x, sections 4.3.7 - 4.3.16.
constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndOfCentralDirSignature = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDirSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kLocalHeaderBytes = 30;
constexpr uint64_t kCentralHeaderBytes = 46;
constexpr uint64_t kEndOfCentralDirBytes = 22;
constexpr uint64_t kZip64LocatorBytes = 20;
constexpr uint64_t kZip64EndOfCentralDirBytes = 56;
constexpr uint64_t kMaxCommentBytes = 0xFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 1u << 0;
constexpr uint16_t kFlagDataDescriptor = 1u << 3;  // sizes follow the data; local header may hold 0
constexpr uint16_t kFlagStrongEncryption = 1u << 6;
constexpr uint16_t kMethodStored = 0;
constexpr uint32_t kSentinel32 = 0xFFFFFFFF;
constexpr uint16_t kSentinel16 = 0xFFFF;

// Little-endian loads; callers have checked that [offset, offset + N) is inside `bytes`.
uint16_t load_u16(std::span<const std::byte> bytes, uint64_t offset) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(bytes[offset]) |
                               std::to_integer<uint16_t>(bytes[offset + 1]) << 8);
}
uint32_t load_u32(std::span<const std::byte> bytes, uint64_t offset) {
  return static_cast<uint32_t>(load_u16(bytes, offset)) | static_cast<uint32_t>(load_u16(bytes, offset + 2)) << 16;
}
uint64_t load_u64(std::span<const std::byte> bytes, uint64_t offset) {
  return static_cast<uint64_t>(load_u32(bytes, offset)) | static_cast<uint64_t>(load_u32(bytes, offset + 4)) << 32;
}

// True when [offset, offset + length) lies inside [0, limit), without overflow.
bool fits(uint64_t offset, uint64_t length, uint64_t limit) { return offset <= limit && length <= limit - offset; }

struct Directory {
  uint64_t entry_count = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t end_limit = 0;  // the central directory must end at or before this offset
};

struct CentralEntry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_offset = 0;
  uint32_t disk_start = 0;
};

std::string_view zip_name_problem(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (name.front() == '/') return "an absolute name";
  if (name.find('\\') != std::string_view::npos) return "a backslash in the name";
  if (name.find('\0') != std::string_view::npos) return "a NUL byte in the name";
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    if (name.substr(start, end - start) == "..") return "a '..' path component";
    start = end + 1;
  }
  return {};
}

Result<Directory> read_end_records(std::span<const std::byte> archive, std::string_view subject) {
  const uint64_t size = archive.size();
  if (size < kEndOfCentralDirBytes) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": not a ZIP archive: ", size, " bytes, the end-of-central-directory record alone takes ",
                          kEndOfCentralDirBytes));
  }
  // The EOCD is the last record; only a comment (at most 64 KiB) may follow it. Scan backwards so
  // the last record wins, and require that its comment reaches exactly to the end of the file.
  const uint64_t lowest = size - kEndOfCentralDirBytes > kMaxCommentBytes ? size - kEndOfCentralDirBytes - kMaxCommentBytes : 0;
  uint64_t eocd = UINT64_MAX;
  for (uint64_t pos = size - kEndOfCentralDirBytes + 1; pos-- > lowest;) {
    if (load_u32(archive, pos) == kEndOfCentralDirSignature &&
        pos + kEndOfCentralDirBytes + load_u16(archive, pos + 20) == size) {
      eocd = pos;
      break;
    }
  }
  if (eocd == UINT64_MAX) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": not a ZIP archive: no end-of-central-directory record in the last ",
                          size - lowest, " bytes (is the file truncated?)"));
  }
  const uint16_t disk = load_u16(archive, eocd + 4);
  const uint16_t directory_disk = load_u16(archive, eocd + 6);
  const uint16_t entries_on_disk = load_u16(archive, eocd + 8);
  const uint16_t entries_total = load_u16(archive, eocd + 10);
  const uint32_t directory_size = load_u32(archive, eocd + 12);
  const uint32_t directory_offset = load_u32(archive, eocd + 16);

  Directory directory{.entry_count = entries_total, .offset = directory_offset, .size = directory_size, .end_limit = eocd};
  const bool has_locator = eocd >= kZip64LocatorBytes &&
                           load_u32(archive, eocd - kZip64LocatorBytes) == kZip64LocatorSignature;
  if (has_locator) {
    const uint64_t locator = eocd - kZip64LocatorBytes;
    const uint32_t record_disk = load_u32(archive, locator + 4);
    const uint64_t record = load_u64(archive, locator + 8);
    const uint32_t total_disks = load_u32(archive, locator + 16);
    if (record_disk != 0 || total_disks > 1) {
      return make_error(ErrorCode::kUnsupported,
                        str(subject, ": multi-disk ZIP64 archive (", total_disks, " disks) is not supported"));
    }
    if (!fits(record, kZip64EndOfCentralDirBytes, locator) || load_u32(archive, record) != kZip64EndOfCentralDirSignature) {
      return make_error(ErrorCode::kInvalidFormat,
                        str(subject, ": ZIP64 locator points at offset ", record,
                            ", where there is no ZIP64 end-of-central-directory record before the locator at ", locator));
    }
    const uint64_t record_size = load_u64(archive, record + 4);  // counts the bytes after this field
    if (record_size < kZip64EndOfCentralDirBytes - 12 || !fits(record + 12, record_size, locator)) {
      return make_error(ErrorCode::kInvalidFormat,
                        str(subject, ": ZIP64 end-of-central-directory record declares ", record_size,
                            " bytes; expected at least ", kZip64EndOfCentralDirBytes - 12, " ending before offset ", locator));
    }
    const uint32_t disk64 = load_u32(archive, record + 16);
    const uint32_t directory_disk64 = load_u32(archive, record + 20);
    const uint64_t entries_on_disk64 = load_u64(archive, record + 24);
    directory = Directory{.entry_count = load_u64(archive, record + 32),
                          .offset = load_u64(archive, record + 48),
                          .size = load_u64(archive, record + 40),
                          .end_limit = record};
    if (disk64 != 0 || directory_disk64 != 0 || entries_on_disk64 != directory.entry_count) {
      return make_error(ErrorCode::kUnsupported, str(subject, ": multi-disk ZIP64 archive is not supported"));
    }
    // The 16/32-bit copies in the EOCD are either the ZIP64 sentinel or the same value.
    if ((entries_total != kSentinel16 && entries_total != directory.entry_count) ||
        (directory_size != kSentinel32 && directory_size != directory.size) ||
        (directory_offset != kSentinel32 && directory_offset != directory.offset)) {
      return make_error(ErrorCode::kInvalidFormat,
                        str(subject, ": ZIP64 record (", directory.entry_count, " entries, directory of ", directory.size,
                            " bytes at ", directory.offset, ") disagrees with the end-of-central-directory record (",
                            entries_total, " entries, ", directory_size, " bytes at ", directory_offset, ")"));
    }
  } else {
    if (entries_total == kSentinel16 || directory_size == kSentinel32 || directory_offset == kSentinel32) {
      return make_error(ErrorCode::kInvalidFormat,
                        str(subject, ": end-of-central-directory record uses ZIP64 sentinels but there is no ZIP64 locator"));
    }
    if (disk != 0 || directory_disk != 0 || entries_on_disk != entries_total) {
      return make_error(ErrorCode::kUnsupported,
                        str(subject, ": multi-disk ZIP archive (disk ", disk, ") is not supported"));
    }
  }
  if (!fits(directory.offset, directory.size, directory.end_limit)) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": central directory [", directory.offset, ", +", directory.size,
                          ") does not end before its end record at offset ", directory.end_limit));
  }
  return directory;
}

// Reads the ZIP64 extended-information extra field: it holds, in this order, only the fields whose
// 32-bit header value is the sentinel (APPNOTE 4.5.3).
Status read_zip64_extra(std::span<const std::byte> extra, std::string_view subject, const std::string& name,
                        uint64_t* uncompressed, uint64_t* compressed, uint64_t* local_offset, uint32_t* disk_start) {
  uint64_t cursor = 0;
  while (extra.size() - cursor >= 4) {
    const uint16_t id = load_u16(extra, cursor);
    const uint16_t length = load_u16(extra, cursor + 2);
    cursor += 4;
    if (length > extra.size() - cursor) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": entry '", name, "': extra field 0x", std::hex, id,
                                                       std::dec, " declares ", length, " bytes, ",
                                                       extra.size() - cursor, " remain"));
    }
    if (id == kZip64ExtraId) {
      std::span<const std::byte> block = extra.subspan(cursor, length);
      uint64_t used = 0;
      for (uint64_t* field : {uncompressed, compressed, local_offset}) {
        if (field == nullptr || *field != kSentinel32) continue;
        if (block.size() - used < 8) {
          return make_error(ErrorCode::kInvalidFormat,
                            str(subject, ": entry '", name, "': ZIP64 extra field of ", block.size(),
                                " bytes is missing a 64-bit value that the header marks as 0xFFFFFFFF"));
        }
        *field = load_u64(block, used);
        used += 8;
      }
      if (disk_start != nullptr && *disk_start == kSentinel16) {
        if (block.size() - used < 4) {
          return make_error(ErrorCode::kInvalidFormat,
                            str(subject, ": entry '", name, "': ZIP64 extra field is missing the disk number"));
        }
        *disk_start = load_u32(block, used);
      }
      return {};
    }
    cursor += length;
  }
  const bool needs_extra = (uncompressed && *uncompressed == kSentinel32) || (compressed && *compressed == kSentinel32) ||
                           (local_offset && *local_offset == kSentinel32) || (disk_start && *disk_start == kSentinel16);
  if (needs_extra) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": entry '", name, "': header holds ZIP64 sentinels but there is no ZIP64 extra field"));
  }
  return {};
}

Result<CentralEntry> read_central_entry(std::span<const std::byte> archive, std::string_view subject, uint64_t* cursor,
                                        uint64_t directory_end, uint64_t index, const ZipLimits& limits) {
  const uint64_t at = *cursor;
  if (!fits(at, kCentralHeaderBytes, directory_end) || load_u32(archive, at) != kCentralHeaderSignature) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": central directory entry ", index, " at offset ", at,
                          " is missing or truncated (directory ends at ", directory_end, ")"));
  }
  const uint64_t name_length = load_u16(archive, at + 28);
  const uint64_t extra_length = load_u16(archive, at + 30);
  const uint64_t comment_length = load_u16(archive, at + 32);
  const uint64_t total = kCentralHeaderBytes + name_length + extra_length + comment_length;
  if (!fits(at, total, directory_end)) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": central directory entry ", index, " needs ", total, " bytes at offset ", at,
                          "; the directory ends at ", directory_end));
  }
  if (name_length > limits.max_name_bytes) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": central directory entry ", index, " has a name of ",
                                                     name_length, " bytes; the limit is ", limits.max_name_bytes));
  }
  CentralEntry entry;
  entry.name.assign(reinterpret_cast<const char*>(archive.data() + at + kCentralHeaderBytes), name_length);
  entry.flags = load_u16(archive, at + 8);
  entry.method = load_u16(archive, at + 10);
  entry.compressed_size = load_u32(archive, at + 20);
  entry.uncompressed_size = load_u32(archive, at + 24);
  entry.disk_start = load_u16(archive, at + 34);
  entry.local_offset = load_u32(archive, at + 42);
  Status extra = read_zip64_extra(archive.subspan(at + kCentralHeaderBytes + name_length, extra_length), subject,
                                  entry.name, &entry.uncompressed_size, &entry.compressed_size, &entry.local_offset,
                                  &entry.disk_start);
  if (!extra) return extra.error();
  *cursor = at + total;
  return entry;
}

Status check_entry_header(const CentralEntry& entry, std::string_view subject) {
  if (std::string_view problem = zip_name_problem(entry.name); !problem.empty()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": entry '", entry.name, "' has ", problem,
                                                     "; refusing an archive that could write outside its folder"));
  }
  if ((entry.flags & (kFlagEncrypted | kFlagStrongEncryption)) != 0) {
    return make_error(ErrorCode::kUnsupported, str(subject, ": entry '", entry.name, "' is encrypted (flags 0x",
                                                   std::hex, entry.flags, std::dec, ")"));
  }
  if (entry.method != kMethodStored) {
    return make_error(ErrorCode::kUnsupported,
                      str(subject, ": entry '", entry.name, "' uses compression method ", entry.method,
                          "; only STORED (0) entries are supported, as torch.save writes them"));
  }
  if (entry.compressed_size != entry.uncompressed_size) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": STORED entry '", entry.name, "' has compressed size ", entry.compressed_size,
                          " != uncompressed size ", entry.uncompressed_size));
  }
  if (entry.disk_start != 0) {
    return make_error(ErrorCode::kUnsupported, str(subject, ": entry '", entry.name, "' starts on disk ",
                                                   entry.disk_start, "; multi-disk archives are not supported"));
  }
  return {};
}

// Cross-checks the local header against the central entry and returns the offset of the data.
Result<uint64_t> check_local_header(std::span<const std::byte> archive, std::string_view subject,
                                    const CentralEntry& entry, uint64_t directory_offset) {
  const uint64_t at = entry.local_offset;
  if (!fits(at, kLocalHeaderBytes, directory_offset) || load_u32(archive, at) != kLocalHeaderSignature) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": entry '", entry.name, "': no local header at offset ", at,
                          " (local headers must lie before the central directory at ", directory_offset, ")"));
  }
  const uint16_t flags = load_u16(archive, at + 6);
  const uint16_t method = load_u16(archive, at + 8);
  uint64_t compressed = load_u32(archive, at + 18);
  uint64_t uncompressed = load_u32(archive, at + 22);
  const uint64_t name_length = load_u16(archive, at + 26);
  const uint64_t extra_length = load_u16(archive, at + 28);
  if (!fits(at + kLocalHeaderBytes, name_length + extra_length, directory_offset)) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": entry '", entry.name, "': local header name and extra (",
                                                     name_length + extra_length, " bytes) run past offset ",
                                                     directory_offset));
  }
  const std::string_view local_name(reinterpret_cast<const char*>(archive.data() + at + kLocalHeaderBytes), name_length);
  if (local_name != entry.name) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": entry '", entry.name,
                                                     "': local header names it '", local_name, "'"));
  }
  if (method != entry.method || (flags & (kFlagEncrypted | kFlagStrongEncryption)) != 0) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": entry '", entry.name, "': local header has method ", method, " and flags 0x",
                          std::hex, flags, std::dec, "; the central directory says method ", entry.method));
  }
  Status extra = read_zip64_extra(archive.subspan(at + kLocalHeaderBytes + name_length, extra_length), subject,
                                  entry.name, &uncompressed, &compressed, nullptr, nullptr);
  if (!extra) return extra.error();
  // With a data descriptor (bit 3) the local header may leave the sizes zero; miniz, which
  // torch.save uses, writes them that way. Any size it does state must match the directory.
  const bool sizes_deferred = (flags & kFlagDataDescriptor) != 0 && compressed == 0 && uncompressed == 0;
  if (!sizes_deferred && (compressed != entry.compressed_size || uncompressed != entry.uncompressed_size)) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": entry '", entry.name, "': local header declares ", uncompressed,
                          " bytes (compressed ", compressed, "), the central directory ", entry.uncompressed_size));
  }
  const uint64_t data_offset = at + kLocalHeaderBytes + name_length + extra_length;
  if (!fits(data_offset, entry.compressed_size, directory_offset)) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": entry '", entry.name, "': data [", data_offset, ", +", entry.compressed_size,
                          ") runs past the central directory at offset ", directory_offset, " (archive is ",
                          archive.size(), " bytes)"));
  }
  return data_offset;
}

}  // namespace

Result<std::vector<ZipEntry>> read_zip(std::span<const std::byte> archive, std::string_view subject,
                                       const ZipLimits& limits) {
  Result<Directory> directory = read_end_records(archive, subject);
  if (!directory) return directory.error();
  if (directory->entry_count > limits.max_entries) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": ZIP declares ", directory->entry_count,
                                                     " entries; the limit is ", limits.max_entries));
  }
  if (directory->entry_count > directory->size / kCentralHeaderBytes) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": ZIP declares ", directory->entry_count, " entries but its central directory has ",
                          directory->size, " bytes (", kCentralHeaderBytes, " per entry at least)"));
  }
  const uint64_t directory_end = directory->offset + directory->size;
  std::vector<ZipEntry> entries;
  entries.reserve(directory->entry_count);
  std::set<std::string, std::less<>> names;
  uint64_t cursor = directory->offset;
  for (uint64_t index = 0; index < directory->entry_count; ++index) {
    Result<CentralEntry> entry = read_central_entry(archive, subject, &cursor, directory_end, index, limits);
    if (!entry) return entry.error();
    Status header = check_entry_header(*entry, subject);
    if (!header) return header.error();
    if (!names.insert(entry->name).second) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": duplicate ZIP entry '", entry->name, "'"));
    }
    Result<uint64_t> data_offset = check_local_header(archive, subject, *entry, directory->offset);
    if (!data_offset) return data_offset.error();
    entries.push_back(ZipEntry{.name = std::move(entry->name),
                               .data_offset = *data_offset,
                               .data = archive.subspan(*data_offset, entry->compressed_size)});
  }
  if (cursor != directory_end) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": central directory is ", directory->size, " bytes but its ",
                                                     directory->entry_count, " entries take ", cursor - directory->offset));
  }
  // Entries must not overlap: each one's data ends before the next local header begins.
  std::vector<const ZipEntry*> by_offset;
  by_offset.reserve(entries.size());
  for (const ZipEntry& entry : entries) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const ZipEntry* a, const ZipEntry* b) { return a->data_offset < b->data_offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const ZipEntry& previous = *by_offset[i - 1];
    const ZipEntry& next = *by_offset[i];
    const uint64_t previous_end = previous.data_offset + previous.data.size();
    if (previous_end + kLocalHeaderBytes > next.data_offset) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": ZIP entries '", previous.name, "' and '", next.name,
                                                       "' overlap (data ends at ", previous_end,
                                                       ", next data starts at ", next.data_offset, ")"));
    }
  }
  return entries;
}

}  // namespace llm
