// Test-only writers for hand-built torch.save archives: a STORED ZIP writer that follows PKWARE
// APPNOTE 6.3 (and can emit the miniz/torch variants: 64-byte-aligned data through a padding extra
// field, data descriptors, ZIP64 records), and a pickle assembler that writes opcode bytes as
// CPython's Lib/pickle.py defines them. Neither uses the code under test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llm::testing {

inline std::string le(uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}

inline std::span<const std::byte> as_bytes(const std::string& text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

struct ZipRecord {
  std::string name;
  std::string data;
  uint16_t method = 0;                          // written to both headers
  uint16_t flags = 0;                           // extra general-purpose flags (both headers)
  std::optional<uint32_t> local_size{};         // overrides the sizes in the local header only
  std::optional<uint32_t> central_size{};       // overrides the sizes in the central header only
  std::optional<std::string> local_name{};      // overrides the name in the local header only
};

struct ZipOptions {
  uint64_t alignment = 64;       // torch.save aligns record data to 64 bytes via an extra field
  bool data_descriptor = false;  // miniz style: bit 3 set, zero sizes in the local header
  bool zip64 = false;            // 0xFFFFFFFF sizes + ZIP64 extra fields + ZIP64 EOCD record/locator
  std::optional<uint16_t> eocd_entry_count{};  // overrides the EOCD entry count
};

// Builds a ZIP archive of STORED records. CRCs are written as 0 (the reader does not check them).
inline std::string make_zip(const std::vector<ZipRecord>& records, const ZipOptions& options = {}) {
  std::string out;
  std::string central;
  for (const ZipRecord& record : records) {
    const uint64_t local_offset = out.size();
    const std::string& local_name = record.local_name ? *record.local_name : record.name;
    const uint16_t flags = record.flags | (options.data_descriptor ? 0x0008 : 0);
    const uint64_t size = record.data.size();
    uint64_t local_size_value = record.local_size ? *record.local_size : size;
    if (options.data_descriptor && !record.local_size) local_size_value = 0;
    std::string local_extra;
    if (options.zip64) local_extra = le(0x0001, 2) + le(16, 2) + le(local_size_value, 8) + le(local_size_value, 8);
    // Padding extra field (id 'FB', as torch writes it) so the data starts on an aligned offset.
    uint64_t data_start = local_offset + 30 + local_name.size() + local_extra.size();
    if (options.alignment > 1 && data_start % options.alignment != 0) {
      uint64_t pad = options.alignment - data_start % options.alignment;
      if (pad < 4) pad += options.alignment;
      local_extra += le(0x4246, 2) + le(pad - 4, 2) + std::string(pad - 4, 'Z');
    }
    const uint32_t local_field = options.zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(local_size_value);
    out += le(0x04034b50, 4) + le(20, 2) + le(flags, 2) + le(record.method, 2) + le(0, 4) + le(0, 4) +
           le(local_field, 4) + le(local_field, 4) + le(local_name.size(), 2) + le(local_extra.size(), 2) +
           local_name + local_extra + record.data;
    if (options.data_descriptor) out += le(0x08074b50, 4) + le(0, 4) + le(size, 4) + le(size, 4);
    const uint64_t central_size = record.central_size ? *record.central_size : size;
    std::string central_extra;
    if (options.zip64) central_extra = le(0x0001, 2) + le(24, 2) + le(central_size, 8) + le(central_size, 8) + le(local_offset, 8);
    const uint32_t size_field = options.zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(central_size);
    const uint32_t offset_field = options.zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(local_offset);
    central += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(flags, 2) + le(record.method, 2) + le(0, 4) +
               le(0, 4) + le(size_field, 4) + le(size_field, 4) + le(record.name.size(), 2) +
               le(central_extra.size(), 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(offset_field, 4) +
               record.name + central_extra;
  }
  const uint64_t central_offset = out.size();
  out += central;
  const uint64_t count = records.size();
  if (options.zip64) {
    const uint64_t record_offset = out.size();
    out += le(0x06064b50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4) + le(count, 8) + le(count, 8) +
           le(central.size(), 8) + le(central_offset, 8);
    out += le(0x07064b50, 4) + le(0, 4) + le(record_offset, 8) + le(1, 4);
    out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(0xFFFF, 2) + le(0xFFFF, 2) + le(0xFFFFFFFF, 4) +
           le(0xFFFFFFFF, 4) + le(0, 2);
  } else {
    const uint64_t eocd_count = options.eocd_entry_count ? *options.eocd_entry_count : count;
    out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(eocd_count, 2) + le(eocd_count, 2) + le(central.size(), 4) +
           le(central_offset, 4) + le(0, 2);
  }
  return out;
}

// Pickle opcodes, protocol 2 forms (Lib/pickle.py).
class PickleWriter {
 public:
  PickleWriter& raw(std::string_view bytes) { out_ += bytes; return *this; }
  PickleWriter& proto(int version) { out_ += '\x80'; out_ += static_cast<char>(version); return *this; }
  PickleWriter& mark() { return raw("("); }
  PickleWriter& stop() { return raw("."); }
  PickleWriter& put(int index) { out_ += 'q'; out_ += static_cast<char>(index); return *this; }
  PickleWriter& get(int index) { out_ += 'h'; out_ += static_cast<char>(index); return *this; }
  PickleWriter& global(std::string_view module, std::string_view name) {
    out_ += 'c'; out_ += module; out_ += '\n'; out_ += name; out_ += '\n'; return *this;
  }
  PickleWriter& unicode(std::string_view text) { out_ += 'X' + le(text.size(), 4); out_ += text; return *this; }
  PickleWriter& int1(int value) { out_ += 'K'; out_ += static_cast<char>(value); return *this; }
  PickleWriter& int4(int32_t value) { out_ += 'J' + le(static_cast<uint32_t>(value), 4); return *this; }
  PickleWriter& tuple() { return raw("t"); }
  PickleWriter& reduce() { return raw("R"); }
  PickleWriter& empty_dict() { return raw("}"); }
  PickleWriter& empty_list() { return raw("]"); }
  PickleWriter& empty_tuple() { return raw(")"); }
  PickleWriter& setitems() { return raw("u"); }
  PickleWriter& newfalse() { return raw("\x89"); }
  PickleWriter& binpersid() { return raw("Q"); }

  // A small-int tuple: (d0, d1, ...) as MARK ints TUPLE.
  PickleWriter& int_tuple(const std::vector<int>& values) {
    mark();
    for (int value : values) int4(value);
    return tuple();
  }

  // One tensor value the way torch.save pickles it (memo ops omitted; they do not change values):
  // _rebuild_tensor_v2(('storage', torch.<type>, '<key>', 'cpu', numel), offset, size, stride,
  //                    False, OrderedDict())
  PickleWriter& tensor(std::string_view storage_type, std::string_view key, int64_t numel, int offset,
                       const std::vector<int>& size, const std::vector<int>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().unicode("storage").global("torch", storage_type).unicode(key).unicode("cpu");
    if (numel >= 0 && numel < (int64_t{1} << 31)) {
      int4(static_cast<int32_t>(numel));
    } else {
      out_ += "\x8a\x08" + le(static_cast<uint64_t>(numel), 8);  // LONG1, 8 bytes
    }
    tuple().binpersid().int4(offset).int_tuple(size).int_tuple(stride).newfalse();
    global("collections", "OrderedDict").empty_tuple().reduce();
    return tuple().reduce();
  }

  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

}  // namespace llm::testing
