// The ZIP reader against archives built by the test writer (pth_builder.h, per PKWARE APPNOTE),
// including the miniz variants torch.save produces and the attacks of reliability.md item 12.
#include <gtest/gtest.h>

#include <string>

#include "formats/pytorch/pth_builder.h"
#include "formats/pytorch/zip.h"

namespace llm {
namespace {

using testing::as_bytes;
using testing::make_zip;
using testing::ZipOptions;
using testing::ZipRecord;

void expect_error(const Result<std::vector<ZipEntry>>& result, ErrorCode code, const std::string& needle) {
  ASSERT_FALSE(result.ok()) << "expected an error containing: " << needle;
  EXPECT_EQ(result.error().code, code) << result.error().message;
  EXPECT_NE(result.error().message.find(needle), std::string::npos)
      << "message: " << result.error().message << "\nexpected to contain: " << needle;
}

std::vector<ZipRecord> torch_like_records() {
  return {ZipRecord{.name = "archive/data.pkl", .data = "\x80\x02}."},
          ZipRecord{.name = "archive/byteorder", .data = "little"},
          ZipRecord{.name = "archive/data/0", .data = std::string(24, '\x01')},
          ZipRecord{.name = "archive/version", .data = "3\n"},
          ZipRecord{.name = "archive/.data/serialization_id", .data = "1234567890"}};
}

void expect_torch_like_entries(const std::string& archive) {
  auto entries = read_zip(as_bytes(archive), "t.pth");
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  ASSERT_EQ(entries->size(), 5u);
  const std::vector<ZipRecord> records = torch_like_records();
  for (size_t i = 0; i < records.size(); ++i) {
    const ZipEntry& entry = (*entries)[i];
    EXPECT_EQ(entry.name, records[i].name);
    EXPECT_EQ(entry.data_offset % 64, 0u) << entry.name;  // the writer aligned every record
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(entry.data.data()), entry.data.size()), records[i].data);
    // Zero copy: the span points into the archive itself.
    EXPECT_EQ(reinterpret_cast<const char*>(entry.data.data()), archive.data() + entry.data_offset);
  }
}

TEST(Zip, ReadsAlignedStoredEntries) { expect_torch_like_entries(make_zip(torch_like_records())); }

TEST(Zip, ReadsMinizDataDescriptorEntries) {
  expect_torch_like_entries(make_zip(torch_like_records(), ZipOptions{.data_descriptor = true}));
}

TEST(Zip, ReadsZip64Archives) {
  expect_torch_like_entries(make_zip(torch_like_records(), ZipOptions{.data_descriptor = true, .zip64 = true}));
  expect_torch_like_entries(make_zip(torch_like_records(), ZipOptions{.zip64 = true}));
}

TEST(Zip, ReadsEmptyArchive) {
  auto entries = read_zip(as_bytes(make_zip({})), "t.pth");
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  EXPECT_TRUE(entries->empty());
}

TEST(Zip, RejectsLocalHeaderDeclaring2GB) {
  // pytorch#185440: the local header declares 2.2 GB for a 4-byte record.
  auto archive = make_zip({ZipRecord{.name = "a/data/0", .data = "abcd", .local_size = 0x80000000u}});
  expect_error(read_zip(as_bytes(archive), "t.pth"), ErrorCode::kInvalidFormat,
               "t.pth: entry 'a/data/0': local header declares 2147483648 bytes (compressed 2147483648), the central "
               "directory 4");
}

TEST(Zip, RejectsCentralSizeBeyondFile) {
  auto archive = make_zip({ZipRecord{.name = "a/data/0", .data = "abcd", .central_size = 0x80000000u}},
                          ZipOptions{.data_descriptor = true});
  expect_error(read_zip(as_bytes(archive), "t.pth"), ErrorCode::kInvalidFormat,
               "entry 'a/data/0': data [64, +2147483648) runs past the central directory");
}

TEST(Zip, RejectsCompressedAndEncryptedEntries) {
  expect_error(read_zip(as_bytes(make_zip({ZipRecord{.name = "a/x", .data = "zz", .method = 8}})), "t.pth"),
               ErrorCode::kUnsupported, "entry 'a/x' uses compression method 8; only STORED (0) entries are supported");
  expect_error(read_zip(as_bytes(make_zip({ZipRecord{.name = "a/x", .data = "zz", .flags = 1}})), "t.pth"),
               ErrorCode::kUnsupported, "entry 'a/x' is encrypted");
}

TEST(Zip, RejectsDuplicateEntries) {
  auto archive = make_zip({ZipRecord{.name = "a/data/0", .data = "1"}, ZipRecord{.name = "a/data/0", .data = "2"}});
  expect_error(read_zip(as_bytes(archive), "t.pth"), ErrorCode::kInvalidFormat, "duplicate ZIP entry 'a/data/0'");
}

TEST(Zip, RejectsUnsafeNames) {
  expect_error(read_zip(as_bytes(make_zip({ZipRecord{.name = "../evil", .data = "x"}})), "t.pth"),
               ErrorCode::kInvalidFormat, "entry '../evil' has a '..' path component");
  expect_error(read_zip(as_bytes(make_zip({ZipRecord{.name = "a/../../evil", .data = "x"}})), "t.pth"),
               ErrorCode::kInvalidFormat, "has a '..' path component");
  expect_error(read_zip(as_bytes(make_zip({ZipRecord{.name = "/etc/passwd", .data = "x"}})), "t.pth"),
               ErrorCode::kInvalidFormat, "entry '/etc/passwd' has an absolute name");
  expect_error(read_zip(as_bytes(make_zip({ZipRecord{.name = "a\\..\\b", .data = "x"}})), "t.pth"),
               ErrorCode::kInvalidFormat, "has a backslash in the name");
}

TEST(Zip, RejectsLocalNameMismatch) {
  auto archive = make_zip({ZipRecord{.name = "a/data/0", .data = "x", .local_name = "a/data/1"}});
  expect_error(read_zip(as_bytes(archive), "t.pth"), ErrorCode::kInvalidFormat,
               "entry 'a/data/0': local header names it 'a/data/1'");
}

TEST(Zip, RejectsTruncatedAndTinyFiles) {
  const std::string archive = make_zip(torch_like_records());
  expect_error(read_zip(as_bytes(archive.substr(0, archive.size() - 1)), "t.pth"), ErrorCode::kInvalidFormat,
               "no end-of-central-directory record");
  expect_error(read_zip(as_bytes(std::string(21, 'P')), "t.pth"), ErrorCode::kInvalidFormat,
               "not a ZIP archive: 21 bytes");
  expect_error(read_zip(as_bytes(std::string()), "t.pth"), ErrorCode::kInvalidFormat, "not a ZIP archive: 0 bytes");
}

TEST(Zip, RejectsEntryCountBeyondDirectoryOrLimit) {
  auto lying = make_zip({ZipRecord{.name = "a/x", .data = "x"}}, ZipOptions{.eocd_entry_count = 1000});
  expect_error(read_zip(as_bytes(lying), "t.pth"), ErrorCode::kInvalidFormat,
               "ZIP declares 1000 entries but its central directory has 49 bytes");
  auto many = make_zip({ZipRecord{.name = "a/1", .data = "x"}, ZipRecord{.name = "a/2", .data = "y"},
                        ZipRecord{.name = "a/3", .data = "z"}});
  expect_error(read_zip(as_bytes(many), "t.pth", ZipLimits{.max_entries = 2}), ErrorCode::kInvalidFormat,
               "ZIP declares 3 entries; the limit is 2");
}

}  // namespace
}  // namespace llm
