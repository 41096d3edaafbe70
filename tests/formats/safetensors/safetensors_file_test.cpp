// One safetensors file. Inputs are hand-built bytes; expected values are the bytes we wrote and
// IEEE facts (f32 1.0 = 0x3F800000, f16 1.0 = 0x3C00, bf16 1.0 = 0x3F80). The "crate:" tests port
// huggingface/safetensors safetensors/src/tensor.rs unit tests (same bytes, our error texts).
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "formats/safetensors/safetensors.h"
#include "formats/safetensors/safetensors_test_files.h"

namespace llm {
namespace {

using testing::as_bytes;
using testing::safetensors_bytes;
using testing::TempDir;
using testing::u64_le;

constexpr const char* kName = "test.safetensors";

Result<TensorSource> parse(const std::string& file) { return parse_safetensors(as_bytes(file), kName); }

// The parse fails with `code` and a message containing `substring`, prefixed by the file name.
void expect_error(const std::string& file, ErrorCode code, const std::string& substring) {
  Result<TensorSource> result = parse(file);
  ASSERT_FALSE(result.ok()) << "expected an error containing: " << substring;
  EXPECT_EQ(result.error().code, code) << result.error().to_string();
  EXPECT_NE(result.error().message.find(substring), std::string::npos)
      << "message: " << result.error().message << "\nexpected substring: " << substring;
  EXPECT_EQ(result.error().message.rfind(std::string(kName) + ": ", 0), 0u) << result.error().message;
}

std::string one_tensor(const std::string& dtype, const std::string& shape, const std::string& offsets) {
  return R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
}

// ---- valid files ----

TEST(Safetensors, ReadsF32F16BF16WithExactBytes) {
  TempDir dir;
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F16","shape":[1,2],"data_offsets":[8,12]},)"
      R"("c":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]}})";
  // f32 1.0, -2.0 | f16 1.0, 0.5 | bf16 1.0, -1.0 (little endian)
  const std::string data("\x00\x00\x80\x3F\x00\x00\x00\xC0"
                         "\x00\x3C\x00\x38"
                         "\x80\x3F\x80\xBF",
                         16);
  std::string path = dir.write("m.safetensors", safetensors_bytes(header, data));
  Result<TensorSource> source = read_safetensors(path);
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  ASSERT_EQ(source->size(), 3u);

  const TensorEntry* a = source->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->shape, (Shape{2}));
  ASSERT_EQ(a->bytes.size(), 8u);
  float values[2];
  std::memcpy(values, a->bytes.data(), 8);
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], -2.0f);

  const TensorEntry* b = source->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::kF16);
  EXPECT_EQ(b->shape, (Shape{1, 2}));
  EXPECT_EQ(testing::to_string(b->bytes), std::string("\x00\x3C\x00\x38", 4));

  const TensorEntry* c = source->find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, DType::kBF16);
  EXPECT_EQ(c->shape, (Shape{2}));
  EXPECT_EQ(testing::to_string(c->bytes), std::string("\x80\x3F\x80\xBF", 4));
}

TEST(Safetensors, TensorsComeInDataOrder) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                             R"("z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const std::string file = safetensors_bytes(header, "zzzzaaaa");  // the views point into it
  Result<TensorSource> source = parse(file);
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  ASSERT_EQ(source->size(), 2u);
  EXPECT_EQ(source->tensors()[0].name, "z");
  EXPECT_EQ(testing::to_string(source->tensors()[0].bytes), "zzzz");
  EXPECT_EQ(source->tensors()[1].name, "a");
  EXPECT_EQ(testing::to_string(source->tensors()[1].bytes), "aaaa");
}

// crate: test_zero_sized_tensor (F32 instead of I32, which we do not read).
TEST(Safetensors, ZeroSizedTensor) {
  Result<TensorSource> source = parse(safetensors_bytes(one_tensor("F32", "[2,0]", "[0, 0]")));
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  ASSERT_EQ(source->size(), 1u);
  EXPECT_EQ(source->tensors()[0].shape, (Shape{2, 0}));
  EXPECT_TRUE(source->tensors()[0].bytes.empty());
}

TEST(Safetensors, ZeroSizedTensorBesideData) {
  const std::string header = R"({"empty":{"dtype":"BF16","shape":[0],"data_offsets":[0,0]},)"
                             R"("w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})";
  const std::string file = safetensors_bytes(header, "wwww");  // the views point into it
  Result<TensorSource> source = parse(file);
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  EXPECT_EQ(source->size(), 2u);
  EXPECT_EQ(testing::to_string(source->find("w")->bytes), "wwww");
}

// The largest allowed dim (2^53) times zero elements is an empty tensor, not an overflow.
TEST(Safetensors, LargestDimWithZeroIsEmpty) {
  Result<TensorSource> source = parse(safetensors_bytes(one_tensor("F32", "[9007199254740992,0]", "[0,0]")));
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  EXPECT_EQ(source->tensors()[0].shape, (Shape{int64_t{1} << 53, 0}));
}

// crate: test_empty_shapes_allowed (a scalar has one element).
TEST(Safetensors, ScalarShape) {
  Result<TensorSource> source = parse(safetensors_bytes(one_tensor("F32", "[]", "[0,4]"), std::string(4, '\0')));
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  EXPECT_EQ(source->tensors()[0].shape.rank(), 0);
  EXPECT_EQ(source->tensors()[0].bytes.size(), 4u);
}

// crate: test_whitespace_padded_header; writers pad so the data section is aligned.
TEST(Safetensors, WhitespacePaddedHeader) {
  Result<TensorSource> trailing = parse(std::string("\x06\x00\x00\x00\x00\x00\x00\x00{}\x0D\x20\x09\x0A", 14));
  ASSERT_TRUE(trailing.ok()) << trailing.error().to_string();
  EXPECT_EQ(trailing->size(), 0u);
  Result<TensorSource> padded = parse(safetensors_bytes("  " + one_tensor("F16", "[1]", "[0,2]") + "      ", "xy"));
  ASSERT_TRUE(padded.ok()) << padded.error().to_string();
  EXPECT_EQ(padded->size(), 1u);
}

TEST(Safetensors, MetadataIsKept) {
  const std::string header = R"({"__metadata__":{"format":"pt","note":"hi"},)"
                             R"("t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  Result<TensorSource> source = parse(safetensors_bytes(header, "abcd"));
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  EXPECT_EQ(source->size(), 1u);
  EXPECT_EQ(source->metadata().size(), 2u);
  EXPECT_EQ(source->metadata().at("format"), "pt");
  EXPECT_EQ(source->metadata().at("note"), "hi");
}

// ---- framing: length field, UTF-8, JSON ----

// crate: test_header_too_small
TEST(Safetensors, HeaderTooSmall) {
  expect_error("", ErrorCode::kInvalidFormat, "file is 0 bytes, smaller than the 8-byte header length field");
  expect_error(std::string(7, '\0'), ErrorCode::kInvalidFormat, "file is 7 bytes");
}

// crate: test_header_too_large
TEST(Safetensors, HeaderTooLarge) {
  std::string file("<\x00\x00\x00\x00\xff\xff\xff", 8);
  file += R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})" + std::string(16, '\0');
  expect_error(file, ErrorCode::kInvalidFormat, "header length 18446742974197923900 exceeds the limit of 100000000");
  expect_error(u64_le(100'000'001), ErrorCode::kInvalidFormat, "header length 100000001 exceeds the limit");
  expect_error(u64_le(UINT64_MAX) + "{}", ErrorCode::kInvalidFormat, "exceeds the limit of 100000000 bytes");
  // At the limit the length is allowed but must fit in the file.
  expect_error(u64_le(100'000'000) + "{}", ErrorCode::kInvalidFormat,
               "header length 100000000 runs past the end of the file (2 bytes follow the length field)");
}

// crate: test_invalid_header_length
TEST(Safetensors, InvalidHeaderLength) {
  expect_error(std::string("<\x00\x00\x00\x00\x00\x00\x00", 8), ErrorCode::kInvalidFormat,
               "header length 60 runs past the end of the file (0 bytes follow the length field)");
}

// crate: test_invalid_header_non_utf8, plus overlong and surrogate encodings inside a key.
TEST(Safetensors, HeaderNotUtf8) {
  expect_error(std::string("\x01\x00\x00\x00\x00\x00\x00\x00\xff", 9), ErrorCode::kInvalidFormat,
               "header is not valid UTF-8 (bad byte at header offset 0)");
  expect_error(safetensors_bytes("{\"\xC0\x80\":1}"), ErrorCode::kInvalidFormat, "bad byte at header offset 2");
  expect_error(safetensors_bytes("{\"\xED\xA0\x80\":1}"), ErrorCode::kInvalidFormat, "bad byte at header offset 2");
  expect_error(safetensors_bytes("{\"\xF4\x90\x80\x80\":1}"), ErrorCode::kInvalidFormat, "not valid UTF-8");
  expect_error(safetensors_bytes("{\"\xE2\x82\":1}"), ErrorCode::kInvalidFormat, "not valid UTF-8");
}

// crate: test_invalid_header_not_json
TEST(Safetensors, HeaderNotJson) {
  expect_error(std::string("\x01\x00\x00\x00\x00\x00\x00\x00{", 9), ErrorCode::kInvalidFormat,
               "test.safetensors: header: not valid JSON");
}

// JSON text cannot hold a raw NUL; nlohmann would stop at it and ignore what follows.
TEST(Safetensors, HeaderWithNulRejected) {
  expect_error(safetensors_bytes(std::string("{}\0\0", 4)), ErrorCode::kInvalidFormat,
               "header holds a NUL byte at header offset 2");
  expect_error(safetensors_bytes(std::string("{\"a\0\":1}", 8)), ErrorCode::kInvalidFormat,
               "NUL byte at header offset 3");
}

TEST(Safetensors, HeaderMustBeObject) {
  expect_error(safetensors_bytes("[]"), ErrorCode::kInvalidFormat, "header must be a JSON object, got array");
  expect_error(safetensors_bytes("7"), ErrorCode::kInvalidFormat, "header must be a JSON object, got number");
}

TEST(Safetensors, DuplicateKeysRejected) {
  const std::string header = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expect_error(safetensors_bytes(header, std::string(8, '\0')), ErrorCode::kInvalidFormat, "duplicate key \"t\"");
  expect_error(safetensors_bytes(one_tensor("F32", "[1]", "[0,4]").insert(6, R"("dtype":"F16",)"), "abcd"),
               ErrorCode::kInvalidFormat, "duplicate key \"dtype\"");
}

TEST(Safetensors, MetadataMustBeStringToString) {
  expect_error(safetensors_bytes(R"({"__metadata__":"x"})"), ErrorCode::kInvalidFormat,
               "__metadata__ must be an object of strings, got string");
  expect_error(safetensors_bytes(R"({"__metadata__":{"k":1}})"), ErrorCode::kInvalidFormat,
               "__metadata__ value of \"k\" must be a string, got number");
  expect_error(safetensors_bytes(R"({"__metadata__":{"k":null}})"), ErrorCode::kInvalidFormat,
               "__metadata__ value of \"k\" must be a string, got null");
  expect_error(safetensors_bytes(R"({"__metadata__":{"k":{"x":"y"}}})"), ErrorCode::kInvalidFormat,
               "__metadata__ value of \"k\" must be a string, got object");
}

// ---- per-tensor entries ----

TEST(Safetensors, EntryFieldsRequired) {
  expect_error(safetensors_bytes(R"({"t":3})"), ErrorCode::kInvalidFormat,
               "tensor \"t\": entry must be an object, got number");
  expect_error(safetensors_bytes(R"({"t":{"shape":[1],"data_offsets":[0,4]}})", "abcd"), ErrorCode::kInvalidFormat,
               "tensor \"t\": missing \"dtype\"");
  expect_error(safetensors_bytes(R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", "abcd"),
               ErrorCode::kInvalidFormat, "tensor \"t\": missing \"shape\"");
  expect_error(safetensors_bytes(R"({"t":{"dtype":"F32","shape":[1]}})", "abcd"), ErrorCode::kInvalidFormat,
               "tensor \"t\": missing \"data_offsets\"");
  expect_error(safetensors_bytes(R"({"t":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", "abcd"),
               ErrorCode::kInvalidFormat, "tensor \"t\": \"dtype\" must be a string, got 7");
}

TEST(Safetensors, UnknownDtypeIsInvalidFormat) {
  expect_error(safetensors_bytes(one_tensor("Q4_0", "[32]", "[0,18]"), std::string(18, '\0')),
               ErrorCode::kInvalidFormat, "tensor \"t\": unknown dtype \"Q4_0\"");
  expect_error(safetensors_bytes(one_tensor("f32", "[1]", "[0,4]"), "abcd"), ErrorCode::kInvalidFormat,
               "unknown dtype \"f32\"");
}

// Valid safetensors dtypes we do not read: the well-formed file is refused as unsupported.
TEST(Safetensors, OtherValidDtypesAreUnsupported) {
  struct Case {
    const char* dtype;
    int bytes;  // for shape [2]
  };
  for (Case c : {Case{"I8", 2}, Case{"I32", 8}, Case{"I64", 16}, Case{"F64", 16}, Case{"U8", 2}, Case{"BOOL", 2},
                 Case{"F8_E4M3", 2}, Case{"F8_E5M2", 2}, Case{"U16", 4}, Case{"C64", 16}, Case{"F4", 1}}) {
    SCOPED_TRACE(c.dtype);
    std::string offsets = "[0," + std::to_string(c.bytes) + "]";
    expect_error(safetensors_bytes(one_tensor(c.dtype, "[2]", offsets), std::string(static_cast<size_t>(c.bytes), 'x')),
                 ErrorCode::kUnsupported,
                 std::string("tensor \"t\": dtype ") + c.dtype + " is not supported (only F32, F16, BF16)");
  }
}

TEST(Safetensors, ShapeMustBeNonNegativeIntegers) {
  expect_error(safetensors_bytes(one_tensor("F32", "4", "[0,16]"), std::string(16, '\0')),
               ErrorCode::kInvalidFormat, "tensor \"t\": \"shape\" must be an array of integers, got number");
  expect_error(safetensors_bytes(one_tensor("F32", "[-1]", "[0,0]")), ErrorCode::kInvalidFormat,
               "tensor \"t\": shape dim 0 must be an integer in [0, 2^53], got -1");
  expect_error(safetensors_bytes(one_tensor("F32", "[1,2.0]", "[0,8]"), std::string(8, '\0')),
               ErrorCode::kInvalidFormat, "shape dim 1 must be an integer in [0, 2^53], got 2.0");
  expect_error(safetensors_bytes(one_tensor("F32", R"(["2"])", "[0,8]"), std::string(8, '\0')),
               ErrorCode::kInvalidFormat, "shape dim 0 must be an integer in [0, 2^53], got \"2\"");
  expect_error(safetensors_bytes(one_tensor("F32", "[9007199254740993,0]", "[0,0]")), ErrorCode::kInvalidFormat,
               "shape dim 0 must be an integer in [0, 2^53], got 9007199254740993");
}

TEST(Safetensors, DataOffsetsMustBeTwoOrderedIntegers) {
  for (const char* offsets : {"[0]", "[0,4,8]", "[-1,3]", "[0.0,4]", "\"0,4\"", "[0,null]"}) {
    SCOPED_TRACE(offsets);
    expect_error(safetensors_bytes(one_tensor("F32", "[1]", offsets), "abcd"), ErrorCode::kInvalidFormat,
                 "tensor \"t\": \"data_offsets\" must be [begin, end] with two non-negative integers");
  }
  expect_error(safetensors_bytes(one_tensor("F32", "[0]", "[8,4]"), std::string(8, '\0')),
               ErrorCode::kInvalidFormat, "tensor \"t\": data_offsets [8, 4] end before they begin");
}

// crate: test_invalid_info
TEST(Safetensors, ByteCountMustMatchShape) {
  expect_error(std::string("<\x00\x00\x00\x00\x00\x00\x00", 8) +
                   R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}})",
               ErrorCode::kInvalidFormat,
               "tensor \"test\": I32 shape [2, 2] needs 16 bytes, data_offsets [0, 4] give 4");
  expect_error(safetensors_bytes(one_tensor("BF16", "[3]", "[0,8]"), std::string(8, '\0')),
               ErrorCode::kInvalidFormat, "BF16 shape [3] needs 6 bytes, data_offsets [0, 8] give 8");
}

// Sub-byte dtypes must fill whole bytes (the crate's MisalignedSlice).
TEST(Safetensors, SubByteTensorMustFillWholeBytes) {
  expect_error(safetensors_bytes(one_tensor("F4", "[3]", "[0,2]"), "xx"), ErrorCode::kInvalidFormat,
               "tensor \"t\": F4 shape [3] is 12 bits, not a whole number of bytes");
}

// crate: test_validation_overflow. Its shapes already break our 2^53 dim limit; products of
// allowed dims must still not wrap (the safetensors-cpp PoC shape wraps to 4 in 64 bits).
TEST(Safetensors, ValidationOverflow) {
  std::string zeros16(16, '\0');
  expect_error(std::string("O\x00\x00\x00\x00\x00\x00\x00", 8) +
                   R"({"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}})" + zeros16,
               ErrorCode::kInvalidFormat, "shape dim 1 must be an integer in [0, 2^53], got 18446744073709551614");
  expect_error(std::string("N\x00\x00\x00\x00\x00\x00\x00", 8) +
                   R"({"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}})" + zeros16,
               ErrorCode::kInvalidFormat, "shape dim 1 must be an integer in [0, 2^53], got 9223372036854775807");
  expect_error(safetensors_bytes(one_tensor("F32", "[9007199254740992,9007199254740992]", "[0,16]"), zeros16),
               ErrorCode::kInvalidFormat,
               "tensor \"t\": element count of shape [9007199254740992, 9007199254740992] overflows");
  expect_error(safetensors_bytes(one_tensor("F32", "[4194305,4194305,211106198978564]", "[0,16]"), zeros16),
               ErrorCode::kInvalidFormat, "element count of shape [4194305, 4194305, 211106198978564] overflows");
  // 2^53 * 2^8 = 2^61 elements fit; 2^61 * 32 bits do not.
  expect_error(safetensors_bytes(one_tensor("F32", "[9007199254740992,256]", "[0,16]"), zeros16),
               ErrorCode::kInvalidFormat, "bit size of F32 shape [9007199254740992, 256] overflows");
  // In dim order, like the crate: the trailing zero does not rescue an overflowing prefix.
  expect_error(safetensors_bytes(one_tensor("F32", "[9007199254740992,9007199254740992,0]", "[0,0]")),
               ErrorCode::kInvalidFormat, "element count of shape");
}

// ---- data section tiling ----

// crate: test_json_attack: ten tensors claiming the same 16 bytes.
TEST(Safetensors, JsonAttackOverlappingOffsets) {
  std::string header = "{";
  for (int i = 0; i < 10; ++i) {
    header += (i ? "," : "") + std::string("\"weight_") + std::to_string(i) +
              R"(":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
  }
  header += "}";
  expect_error(safetensors_bytes(header, std::string(16, '\0')), ErrorCode::kInvalidFormat,
               "tensor \"weight_1\": data_offsets [0, 16] begin at 0, expected 16 where the previous tensor ends");
}

TEST(Safetensors, GapBetweenTensors) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  expect_error(safetensors_bytes(header, std::string(12, '\0')), ErrorCode::kInvalidFormat,
               "tensor \"b\": data_offsets [8, 12] begin at 8, expected 4");
}

TEST(Safetensors, FirstTensorMustStartAtZero) {
  expect_error(safetensors_bytes(one_tensor("F32", "[1]", "[4,8]"), std::string(8, '\0')), ErrorCode::kInvalidFormat,
               "tensor \"t\": data_offsets [4, 8] begin at 4, expected 0");
}

// crate: test_metadata_incomplete_buffer (trailing polyglot bytes, then a truncated file).
TEST(Safetensors, DataMustEndAtFileEnd) {
  const std::string header("<\x00\x00\x00\x00\x00\x00\x00", 8);
  const std::string tensor = R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})";
  expect_error(header + tensor + std::string(16, '\0') + "extra_bogus_data_for_polyglot_file",
               ErrorCode::kInvalidFormat,
               "tensors end at data byte 16 but the data section has 50 bytes: 34 trailing bytes after the last tensor");
  expect_error(header + tensor + std::string(14, '\0'), ErrorCode::kInvalidFormat,
               "tensors need 16 data bytes but the file has only 14: the file is truncated");
  expect_error(safetensors_bytes("{}", "x"), ErrorCode::kInvalidFormat, "1 trailing bytes after the last tensor");
}

// A huge offset pair with a matching size must not be viewed: it fails the tiling check.
TEST(Safetensors, OffsetsPastTheFile) {
  expect_error(safetensors_bytes(one_tensor("F32", "[1]", "[18446744073709551608,18446744073709551612]"), "abcd"),
               ErrorCode::kInvalidFormat, "begin at 18446744073709551608, expected 0");
}

// ---- limits ----

TEST(Safetensors, RankAboveEightIsUnsupported) {
  expect_error(safetensors_bytes(one_tensor("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), "abcd"), ErrorCode::kUnsupported,
               "tensor \"t\": rank 9 is more than the 8 dims we support");
}

TEST(Safetensors, TensorCountCap) {
  // Entries are checked one by one only after the count: the cheapest over-limit header is
  // 1,000,002 small keys (one more than the cap plus room for __metadata__).
  std::string header = "{";
  header.reserve(14'000'000);
  for (uint64_t i = 0; i < kSafetensorsMaxTensors + 2; ++i) {
    header += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
  }
  header += "}";
  expect_error(safetensors_bytes(header), ErrorCode::kInvalidFormat,
               "header has 1000002 entries, more than the limit of 1000000 tensors");
}

// ---- the mmap path ----

TEST(Safetensors, ReadErrorsNameThePath) {
  TempDir dir;
  std::string path = dir.write("bad.safetensors", safetensors_bytes(one_tensor("F32", "[2]", "[0,4]"), "abcd"));
  Result<TensorSource> source = read_safetensors(path);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.error().message.rfind(path + ": tensor \"t\": F32 shape [2] needs 8 bytes", 0), 0u)
      << source.error().message;

  Result<TensorSource> empty = read_safetensors(dir.write("empty.safetensors", ""));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("file is 0 bytes"), std::string::npos) << empty.error().message;

  Result<TensorSource> missing = read_safetensors(dir.str() + "/absent.safetensors");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// The views stay valid after the reader returns: the source owns the mapping.
TEST(Safetensors, SourceKeepsMappingAlive) {
  TempDir dir;
  std::string path = dir.write("m.safetensors", safetensors_bytes(one_tensor("F16", "[2]", "[0,4]"), "\x01\x02\x03\x04"));
  Result<TensorSource> source = read_safetensors(path);
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  std::filesystem::remove(path);
  EXPECT_EQ(testing::to_string(source->tensors()[0].bytes), "\x01\x02\x03\x04");
}

}  // namespace
}  // namespace llm
