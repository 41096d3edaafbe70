// Hostile GGUF files: reliability.md section 5.A items 1-7 and 9, each with its exact error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_test_util.h"
#include "formats/gguf/gguf_writer.h"

namespace llm::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TestGguf small_valid_file() {
  TestGguf spec;
  spec.kvs = {kv_string("general.architecture", "llama"), kv_array_strings("tokenizer.ggml.tokens", {"a", "bc"}),
              kv_array_f32("tokenizer.ggml.scores", {1.0f, 2.0f})};
  spec.tensors = {{"blk.0.attn_q.weight", {32, 2}, kGgmlQ8_0, filled(68, 0), {}},
                  {"blk.0.attn_norm.weight", {4}, kGgmlF32, filled(16, 0), {}}};
  return spec;
}

ErrorCode parse_code(const std::vector<uint8_t>& bytes) {
  Result<GgufFile> file = parse(bytes);
  return file.ok() ? ErrorCode::kInternal : file.error().code;
}

// --- 1. Truncation ---

TEST(GgufBadInput, TruncatedAtEveryOffset) {
  std::vector<uint8_t> bytes = small_valid_file().build();
  ASSERT_TRUE(parse(bytes).ok());
  for (size_t length = 0; length < bytes.size(); ++length) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(length));
    Result<GgufFile> file = parse(prefix);
    ASSERT_FALSE(file.ok()) << "prefix of " << length << " bytes parsed";
    EXPECT_EQ(file.error().code, ErrorCode::kInvalidFormat) << length << ": " << file.error().message;
  }
}

TEST(GgufBadInput, TruncationErrorsNameTheSection) {
  std::vector<uint8_t> bytes = small_valid_file().build();
  auto prefix = [&](size_t n) { return std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n)); };
  EXPECT_EQ(parse_error(prefix(4)), "test.gguf: truncated file: header version at byte 4 needs 4 bytes, 0 remain");
  // Header counts that the remaining bytes cannot hold: 2 tensor infos need at least 66 bytes.
  EXPECT_EQ(parse_error(prefix(24 + 10)), "test.gguf: key-value count 3 is impossible: at most 65536 allowed and the "
                                          "remaining 10 bytes hold at most 0 (truncated or corrupt file)");
  // Mid-KV: 24-byte header, then key "general.architecture" (8 + 20), type (4), value length (8), "llama" (5).
  TestGguf metadata_only;
  metadata_only.kvs = {kv_string("general.architecture", "llama"), kv_u32("general.alignment", 32)};
  std::vector<uint8_t> metadata_bytes = metadata_only.build();
  metadata_bytes.resize(24 + 28 + 4 + 8 + 2);
  EXPECT_EQ(parse_error(metadata_bytes),
            "test.gguf: truncated file: value of key 'general.architecture' (5 bytes) at byte 64 needs 5 bytes, 2 remain");
  // Mid-tensor-info: KVs end at 24 + 45 + 64 + 53 = 186, tensor 0's info takes 8 + 19 + 4 + 16 + 4 + 8 = 59
  // bytes (to 245), then tensor 1's name length (8 bytes, 22) and 2 of its 22 bytes.
  EXPECT_EQ(parse_error(prefix(245 + 10)),
            "test.gguf: truncated file: name of tensor 1 (22 bytes) at byte 253 needs 22 bytes, 2 remain");
  // Cut inside the data of the last tensor: the loader's message (llama_model_loader).
  EXPECT_THAT(parse_error(prefix(bytes.size() - 1)),
              HasSubstr("tensor 'blk.0.attn_norm.weight' data is not within the file bounds: file is corrupted or "
                        "incomplete"));
  EXPECT_THAT(parse_error(prefix(small_valid_file().data_offset() + 10)),
              HasSubstr("tensor 'blk.0.attn_q.weight' data is not within the file bounds: file is corrupted or "
                        "incomplete"));
  EXPECT_THAT(parse_error(prefix(small_valid_file().data_offset() - 1)),
              HasSubstr("the data section starts at byte"));
}

TEST(GgufBadInput, HeaderMagicVersionEndianness) {
  TestGguf spec = small_valid_file();
  spec.magic = 0x46554746;
  EXPECT_THAT(parse_error(spec.build()), HasSubstr("not a GGUF file"));
  spec = small_valid_file();
  spec.version = 1;
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: GGUF version 1 is not supported (supported: 2, 3)");
  EXPECT_EQ(parse_code(spec.build()), ErrorCode::kUnsupported);
  spec.version = 0x03000000;  // version 3 written big-endian
  EXPECT_THAT(parse_error(spec.build()), HasSubstr("big-endian GGUF"));
  EXPECT_EQ(parse_code(spec.build()), ErrorCode::kUnsupported);
  spec.version = 4;
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: GGUF version 4 is not a known version (supported: 2, 3)");
}

// --- 2. String and array lengths ---

TEST(GgufBadInput, HugeStringLengthIsRejectedBeforeAllocating) {
  std::vector<uint8_t> bytes = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
  put_u64(bytes, 0);
  put_u64(bytes, 1);
  put_u64(bytes, uint64_t{1} << 63);  // key length 2^63
  bytes.resize(bytes.size() + 20, 'x');
  EXPECT_EQ(parse_error(bytes), "test.gguf: key of key-value 0: length 9223372036854775808 exceeds the limit of "
                                "1073741824 bytes");
}

TEST(GgufBadInput, StringLongerThanRemainingBytes) {
  TestGguf spec;
  TestKv kv{"general.name", kTypeString, {}};
  put_u64(kv.value, 1000);  // claims 1000 bytes, 3 follow
  kv.value.insert(kv.value.end(), {'a', 'b', 'c'});
  spec.kvs = {kv};
  EXPECT_EQ(parse_error(spec.build()),
            "test.gguf: truncated file: value of key 'general.name' (1000 bytes) at byte 56 needs 1000 bytes, 3 remain");
}

TEST(GgufBadInput, HugeArrayLengths) {
  TestGguf spec;
  TestKv kv{"tokenizer.ggml.scores", kTypeArray, {}};
  put_u32(kv.value, kTypeF32);
  put_u64(kv.value, uint64_t{1} << 63);
  spec.kvs = {kv};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: key 'tokenizer.ggml.scores': array of 9223372036854775808 elements "
                                       "exceeds the limit of 1073741824");
  // Under the cap but larger than the file: 1000 float32 claimed, 8 bytes follow.
  kv.value.clear();
  put_u32(kv.value, kTypeF32);
  put_u64(kv.value, 1000);
  put_u64(kv.value, 0);
  spec.kvs = {kv};
  EXPECT_THAT(parse_error(spec.build()), HasSubstr("truncated file: array of 1000 float32 of key 'tokenizer.ggml.scores'"));
  // String arrays: each element needs at least its 8-byte length.
  kv.value.clear();
  put_u32(kv.value, kTypeString);
  put_u64(kv.value, 1000000);
  put_u64(kv.value, 0);
  spec.kvs = {kv};
  EXPECT_THAT(parse_error(spec.build()), HasSubstr("truncated file: array of 1000000 strings"));
}

// --- 3. Counts ---

TEST(GgufBadInput, ImpossibleCounts) {
  for (uint64_t count : {uint64_t{INT64_MAX}, UINT64_MAX /* -1 */, uint64_t{1} << 32}) {
    TestGguf spec = small_valid_file();
    spec.n_kv = count;
    EXPECT_THAT(parse_error(spec.build()), StartsWith(str("test.gguf: key-value count ", count, " is impossible")));
    spec = small_valid_file();
    spec.n_tensors = count;
    EXPECT_THAT(parse_error(spec.build()), StartsWith(str("test.gguf: tensor count ", count, " is impossible")));
  }
}

// --- 4. Dims ---

TEST(GgufBadInput, DimsProductOverflows) {
  // llama.cpp #18674: ne[1] = 2^42 + 1 with a 2^21-element row: 2^63 + 2^21 elements.
  TestGguf spec;
  spec.tensors = {{"t", {uint64_t{1} << 21, (uint64_t{1} << 42) + 1}, kGgmlF32, filled(16, 0), {}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 't': element count of dims ne [2097152, 4398046511105] "
                                       "overflows int64");
  // Representable element count whose byte size is not: 2^62 f32 = 2^64 bytes.
  spec.tensors = {{"t", {uint64_t{1} << 62}, kGgmlF32, filled(16, 0), {}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 't': byte size of 4611686018427387904 f32 elements overflows");
  spec.tensors = {{"t", {uint64_t{1} << 32, uint64_t{1} << 32}, kGgmlF32, filled(16, 0), {}}};
  EXPECT_THAT(parse_error(spec.build()), HasSubstr("overflows int64"));
}

TEST(GgufBadInput, NegativeDimsAndDimCounts) {
  TestGguf spec;
  spec.tensors = {{"t", {4, UINT64_MAX}, kGgmlF32, filled(16, 0), {}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 't': ne[1] = -1, expected >= 0");
  spec.tensors = {{"t", {1, 1, 1, 1, 4}, kGgmlF32, filled(16, 0), {}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 't': n_dims = 5, expected 1..4");
  spec.tensors = {{"t", {}, kGgmlF32, filled(4, 0), {}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 't': n_dims = 0, expected 1..4");
}

TEST(GgufBadInput, RowNotWholeBlocks) {
  TestGguf spec;
  spec.tensors = {{"t", {33}, kGgmlQ8_0, filled(34, 0), {}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 't': ne[0] = 33 is not a multiple of the q8_0 block size 32");
}

// --- 5. Offsets ---

TEST(GgufBadInput, OffsetsMustBeTheRunningPaddedSum) {
  const std::string contiguous = " (tensors must be stored contiguously in order, each padded to the alignment 32)";
  TestGguf spec = small_valid_file();
  spec.tensors[1].offset = 0;  // overlaps the first tensor
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 'blk.0.attn_norm.weight': data offset 0, expected 96" + contiguous);
  spec = small_valid_file();
  spec.tensors[1].offset = 68;  // right after the first tensor, not aligned
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 'blk.0.attn_norm.weight': data offset 68, expected 96" + contiguous);
  spec = small_valid_file();
  spec.tensors[1].offset = 128;  // a gap
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 'blk.0.attn_norm.weight': data offset 128, expected 96" + contiguous);
  spec = small_valid_file();
  spec.tensors[0].offset = 96;  // out of order
  spec.tensors[1].offset = 0;
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 'blk.0.attn_q.weight': data offset 96, expected 0" + contiguous);
  spec = small_valid_file();
  spec.tensors[0].offset = UINT64_MAX - 7;  // would wrap when added to the data offset
  EXPECT_THAT(parse_error(spec.build()), HasSubstr("data offset 18446744073709551608, expected 0"));
}

TEST(GgufBadInput, DataPastEndOfFile) {
  TestGguf spec = small_valid_file();
  spec.tensors[1].data.resize(8);  // declares 4 f32 (16 bytes), the file holds 8
  std::vector<uint8_t> bytes = spec.build();
  const uint64_t data_start = spec.data_offset();
  EXPECT_EQ(parse_error(bytes), str("test.gguf: tensor 'blk.0.attn_norm.weight' data is not within the file bounds: "
                                    "file is corrupted or incomplete (needs bytes [",
                                    data_start + 96, ", ", data_start + 112, "), the file has ", bytes.size(), ")"));
}

TEST(GgufBadInput, ZeroSizeTensorAtConsistentOffsetIsAllowed) {
  TestGguf spec = small_valid_file();
  spec.tensors.insert(spec.tensors.begin() + 1, TestTensor{"empty", {0}, kGgmlF32, {}, {}});
  Result<GgufFile> file = parse(spec.build());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->tensors.find("empty")->bytes.size(), 0u);
  spec.tensors[1].offset = 8;  // a zero-size tensor at another offset is still rejected
  EXPECT_THAT(parse_error(spec.build()), HasSubstr("tensor 'empty': data offset 8, expected 96"));
}

// --- 6. Alignment ---

TEST(GgufBadInput, BadAlignment) {
  for (uint32_t alignment : {0u, 3u, 48u, 1u << 30}) {
    TestGguf spec = small_valid_file();
    spec.kvs.push_back(kv_u32("general.alignment", alignment));
    EXPECT_EQ(parse_error(spec.build()), str("test.gguf: general.alignment = ", alignment,
                                             ": expected a non-zero power of two <= 1048576"));
  }
  TestGguf spec = small_valid_file();
  spec.kvs.push_back(kv_i32("general.alignment", 32));
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: general.alignment must be of type uint32, got int32");
  spec = small_valid_file();
  spec.kvs.push_back(kv_array_i32("general.alignment", {32}));
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: general.alignment must be of type uint32, got array");
}

// --- 7. Type confusion ---

TEST(GgufBadInput, ScoresOfTheWrongTypeCannotBeReadAsFloats) {
  TestGguf spec = small_valid_file();
  spec.kvs[2] = kv_array_u8("tokenizer.ggml.scores", {1, 2, 3});
  Result<GgufFile> file = parse(spec.build());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->metadata.get_array_floats("tokenizer.ggml.scores").error().message,
            "gguf key 'tokenizer.ggml.scores': expected array of float32, got array of uint8");
  spec.kvs[2] = kv_string("tokenizer.ggml.scores", "1.0");
  file = parse(spec.build());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->metadata.get_array_floats("tokenizer.ggml.scores").error().message,
            "gguf key 'tokenizer.ggml.scores': expected array of float32, got string");
}

TEST(GgufBadInput, UnknownValueTypesAndNestedArrays) {
  TestGguf spec;
  spec.kvs = {TestKv{"k", 13, {0, 0, 0, 0}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: key 'k': unknown value type 13");
  TestKv nested{"k", kTypeArray, {}};
  put_u32(nested.value, kTypeArray);
  put_u64(nested.value, 1);
  put_u32(nested.value, kTypeU8);
  put_u64(nested.value, 0);
  spec.kvs = {nested};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: key 'k': arrays of arrays are not supported");
  TestKv unknown_element{"k", kTypeArray, {}};
  put_u32(unknown_element.value, 99);
  put_u64(unknown_element.value, 0);
  spec.kvs = {unknown_element};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: key 'k': unknown array element type 99");
  spec.kvs = {TestKv{"k", kTypeBool, {2}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: key 'k': bool value 2, expected 0 or 1");
}

TEST(GgufBadInput, TensorTypes) {
  TestGguf spec;
  spec.tensors = {{"t", {4}, 100, filled(16, 0), {}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 't': unknown ggml type id 100");
  EXPECT_EQ(parse_code(spec.build()), ErrorCode::kInvalidFormat);
  spec.tensors = {{"t", {32}, 4, filled(20, 0), {}}};  // Q4_2: removed from the format
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 't': unknown ggml type id 4");
  // A valid ggml type we do not support: Q5_K (256 elements, 176 bytes per block).
  spec.tensors = {{"ok", {4}, kGgmlF32, filled(16, 0), {}}, {"blk.3.ffn_down.weight", {256}, kGgmlQ5_K, filled(176, 0), {}}};
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 'blk.3.ffn_down.weight' has ggml type q5_K (id 13), which is "
                                       "not supported (supported: f32, f16, bf16, q8_0, q4_0, q4_K, q6_K)");
  EXPECT_EQ(parse_code(spec.build()), ErrorCode::kUnsupported);
}

// --- 9. Names ---

TEST(GgufBadInput, DuplicateAndInvalidKeys) {
  TestGguf spec = small_valid_file();
  spec.kvs.push_back(kv_string("general.architecture", "gpt2"));
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: duplicate key 'general.architecture'");
  spec = small_valid_file();
  spec.kvs.push_back(kv_u32("", 1));
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: key-value 3: empty key");
  spec = small_valid_file();
  spec.kvs.push_back(kv_u32("bad\xC3\x28", 1));
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: key-value 3: key is not valid UTF-8");
  spec.kvs.back() = kv_u32("overlong\xC0\xAF", 1);
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: key-value 3: key is not valid UTF-8");
  spec.kvs.back() = kv_u32("caf\xC3\xA9", 1);  // "café": valid
  EXPECT_EQ(parse_error(spec.build()), "OK");
}

TEST(GgufBadInput, DuplicateAndLongTensorNames) {
  TestGguf spec = small_valid_file();
  spec.tensors[1].name = spec.tensors[0].name;
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: duplicate tensor name 'blk.0.attn_q.weight'");
  spec = small_valid_file();
  spec.tensors[1].name = std::string(64, 'n');
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 1: name of 64 bytes, expected at most 63");
  spec.tensors[1].name = std::string(63, 'n');
  EXPECT_EQ(parse_error(spec.build()), "OK");
  spec.tensors[1].name = "";
  EXPECT_EQ(parse_error(spec.build()), "test.gguf: tensor 1: empty name");
}

}  // namespace
}  // namespace llm::test
