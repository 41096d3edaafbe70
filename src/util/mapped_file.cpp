#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/str.h"

namespace llm {

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                      str(path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int saved = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, str(path, ": cannot stat: ", std::strerror(saved)));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::kInvalidArgument, str(path, ": not a regular file"));
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<uint64_t>(info.st_size);
  if (file->size_ > 0) {
    void* data = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      int saved = errno;
      ::close(fd);
      return make_error(ErrorCode::kIo, str(path, ": cannot mmap: ", std::strerror(saved)));
    }
    file->data_ = static_cast<const std::byte*>(data);
  }
  ::close(fd);
  return std::shared_ptr<const MappedFile>(std::move(file));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

Result<std::span<const std::byte>> MappedFile::range(uint64_t offset, uint64_t length,
                                                      const std::string& subject) const {
  if (offset > size_ || length > size_ - offset) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": data range [", offset, ", ", offset, " + ", length,
                          ") is not within the file (", size_, " bytes): ", path_,
                          " is corrupted or incomplete"));
  }
  return std::span<const std::byte>(data_ + offset, static_cast<size_t>(length));
}

Result<std::string> read_text_file(const std::string& path, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, str(path, ": cannot open"));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) return make_error(ErrorCode::kIo, str(path, ": cannot read size"));
  if (static_cast<uint64_t>(size) > max_bytes) {
    return make_error(ErrorCode::kInvalidFormat, str(path, ": ", size, " bytes, more than the limit of ", max_bytes));
  }
  in.seekg(0);
  std::string text(static_cast<size_t>(size), '\0');
  in.read(text.data(), size);
  if (!in) return make_error(ErrorCode::kIo, str(path, ": short read"));
  return text;
}

}  // namespace llm
