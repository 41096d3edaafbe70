// A read-only memory map of a whole file. Model files are hostile: callers check every offset
// and length against size() before forming a view (see formats/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "util/result.h"

namespace llm {

class MappedFile {
 public:
  static Result<std::shared_ptr<const MappedFile>> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, static_cast<size_t>(size_)}; }

  // The byte range [offset, offset + length), or an error naming `subject` if it is not inside
  // the file (overflow-safe).
  Result<std::span<const std::byte>> range(uint64_t offset, uint64_t length, const std::string& subject) const;

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
};

// Reads a whole (small) text file, e.g. config.json. Refuses files above max_bytes.
Result<std::string> read_text_file(const std::string& path, uint64_t max_bytes = 64ull << 20);

}  // namespace llm
