// Valid GGUF files read back exactly: header fields, typed metadata, tensor dtypes, shapes
// (reversed from ne[]) and byte ranges.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_test_util.h"
#include "formats/gguf/gguf_writer.h"

namespace llm::test {
namespace {


// A v2 file written out by hand, byte for byte, with its layout worked out in the comments.
TEST(GgufRead, HandWrittenV2File) {
  std::vector<uint8_t> bytes = {'G', 'G', 'U', 'F', 2, 0, 0, 0};  // magic, version 2
  put_u64(bytes, 1);                                             // n_tensors
  put_u64(bytes, 1);                                             // n_kv        -> 24 bytes
  put_string(bytes, "a");                                        // key (8 + 1)
  put_u32(bytes, 4);                                             // uint32
  put_u32(bytes, 7);                                             // value       -> 41 bytes
  put_string(bytes, "t");                                        // name (8 + 1)
  put_u32(bytes, 1);                                             // n_dims
  put_u64(bytes, 2);                                             // ne[0] = 2
  put_u32(bytes, 0);                                             // f32
  put_u64(bytes, 0);                                             // offset      -> 74 bytes
  bytes.resize(96, 0);                                           // pad to 32 (default alignment)
  put_f32(bytes, 1.5f);
  put_f32(bytes, -2.0f);                                         // total 104 bytes
  ASSERT_EQ(bytes.size(), 104u);

  Result<GgufFile> file = parse(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->version, 2u);
  EXPECT_EQ(file->alignment, 32u);
  EXPECT_EQ(file->data_offset, 96u);
  EXPECT_EQ(*file->metadata.get_u32("a"), 7u);
  ASSERT_EQ(file->tensors.size(), 1u);
  const TensorEntry* t = file->tensors.find("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, DType::kF32);
  EXPECT_EQ(t->shape, (Shape{2}));
  EXPECT_EQ(t->bytes.data(), reinterpret_cast<const std::byte*>(bytes.data() + 96));
  EXPECT_EQ(t->bytes.size(), 8u);
}

TestGguf every_type_file(uint32_t version) {
  TestGguf file;
  file.version = version;
  file.alignment = 64;
  file.kvs = {
      kv_string("general.architecture", "llama"),
      kv_u32("general.alignment", 64),
      kv_u32("llama.block_count", 32),
      kv_i32("llama.negative", -5),
      kv_u64("llama.big", uint64_t{1} << 40),
      kv_f32("llama.rope.freq_base", 500000.0f),
      kv_bool("llama.flag", true),
      kv_array_strings("tokenizer.ggml.tokens", {"a", "", "<|eot_id|>"}),
      kv_array_f32("tokenizer.ggml.scores", {0.5f, -1.0f, 2.0f}),
      kv_array_i32("tokenizer.ggml.token_type", {1, 3, -1}),
      kv_array_u8("bytes", {0, 255}),
  };
  // ne innermost first: token_embd ne [4, 3] is 3 rows of 4 -> Shape {3, 4}.
  file.tensors = {
      {"token_embd.weight", {4, 3}, kGgmlF32, filled(48, 1), {}},
      {"f16", {8}, kGgmlF16, filled(16, 2), {}},
      {"q8", {32, 2}, kGgmlQ8_0, filled(68, 3), {}},
      {"q4", {32, 1, 1}, kGgmlQ4_0, filled(18, 4), {}},
      {"q4k", {256, 1, 1, 2}, kGgmlQ4_K, filled(288, 5), {}},
      {"q6k", {256}, kGgmlQ6_K, filled(210, 6), {}},
      {"bf16", {2, 3}, kGgmlBF16, filled(12, 7), {}},
      {"empty", {0, 5}, kGgmlF32, {}, {}},
  };
  return file;
}

class GgufVersions : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufVersions, EveryTypeReadsBack) {
  TestGguf spec = every_type_file(GetParam());
  std::vector<uint8_t> bytes = spec.build();
  Result<GgufFile> file = parse(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->version, GetParam());
  EXPECT_EQ(file->alignment, 64u);
  EXPECT_EQ(file->data_offset, spec.data_offset());
  EXPECT_EQ(file->data_offset % 64, 0u);

  const GgufMetadata& m = file->metadata;
  EXPECT_EQ(m.size(), 11u);
  EXPECT_EQ(*m.get_string("general.architecture"), "llama");
  EXPECT_EQ(*m.get_u32("llama.block_count"), 32u);
  EXPECT_EQ(*m.get_i64("llama.block_count"), 32);
  EXPECT_EQ(*m.get_i32("llama.negative"), -5);
  EXPECT_EQ(*m.get_u64("llama.big"), uint64_t{1} << 40);
  EXPECT_EQ(*m.get_f32("llama.rope.freq_base"), 500000.0f);
  EXPECT_EQ(*m.get_bool("llama.flag"), true);
  EXPECT_EQ(*m.get_array_strings("tokenizer.ggml.tokens"), (std::vector<std::string>{"a", "", "<|eot_id|>"}));
  EXPECT_EQ(*m.get_array_floats("tokenizer.ggml.scores"), (std::vector<float>{0.5f, -1.0f, 2.0f}));
  EXPECT_EQ(*m.get_array_ints("tokenizer.ggml.token_type"), (std::vector<int64_t>{1, 3, -1}));
  EXPECT_EQ(*m.get_array_ints("bytes"), (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(*m.get_array_length("tokenizer.ggml.tokens"), 3u);
  EXPECT_EQ(m.entries()[0].first, "general.architecture");  // file order kept

  struct Expected {
    const char* name;
    DType dtype;
    Shape shape;
    size_t n_bytes;
    uint8_t first_byte;
  };
  const Expected expected[] = {
      {"token_embd.weight", DType::kF32, {3, 4}, 48, 1}, {"f16", DType::kF16, {8}, 16, 2},
      {"q8", DType::kQ8_0, {2, 32}, 68, 3},              {"q4", DType::kQ4_0, {1, 1, 32}, 18, 4},
      {"q4k", DType::kQ4_K, {2, 1, 1, 256}, 288, 5},     {"q6k", DType::kQ6_K, {256}, 210, 6},
      {"bf16", DType::kBF16, {3, 2}, 12, 7},             {"empty", DType::kF32, {5, 0}, 0, 0},
  };
  ASSERT_EQ(file->tensors.size(), 8u);
  // Data offsets by the padded running sum (alignment 64): 48->64, 16->64, 68->128, 18->64, 288->320, 210->256, 12->64.
  const uint64_t relative_offsets[] = {0, 64, 128, 256, 320, 640, 896, 960};
  for (size_t i = 0; i < 8; ++i) {
    const TensorEntry* t = file->tensors.find(expected[i].name);
    ASSERT_NE(t, nullptr) << expected[i].name;
    EXPECT_EQ(t->dtype, expected[i].dtype) << expected[i].name;
    EXPECT_EQ(t->shape, expected[i].shape) << expected[i].name;
    EXPECT_EQ(t->bytes.size(), expected[i].n_bytes) << expected[i].name;
    EXPECT_EQ(t->bytes.data() - reinterpret_cast<const std::byte*>(bytes.data()),
              static_cast<ptrdiff_t>(spec.data_offset() + relative_offsets[i]))
        << expected[i].name;
    if (expected[i].n_bytes > 0) {
      EXPECT_EQ(static_cast<uint8_t>(t->bytes[0]), expected[i].first_byte);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(V2AndV3, GgufVersions, ::testing::Values(2u, 3u));

TEST(GgufRead, MetadataOnlyFileWithoutDataSection) {
  TestGguf spec;
  spec.kvs = {kv_string("general.name", "x")};
  Result<GgufFile> file = parse(spec.build());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->tensors.size(), 0u);
}

TEST(GgufRead, AlignmentOneIsAllowed) {
  TestGguf spec;
  spec.alignment = 1;
  spec.kvs = {kv_u32("general.alignment", 1)};
  spec.tensors = {{"a", {3}, kGgmlF16, filled(6, 0), {}}, {"b", {1}, kGgmlF32, filled(4, 0), {}}};
  Result<GgufFile> file = parse(spec.build());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->tensors.find("b")->bytes.size(), 4u);
}

TEST(GgufGetters, TypeMismatchesAreErrors) {
  TestGguf spec = every_type_file(3);
  std::vector<uint8_t> bytes = spec.build();
  Result<GgufFile> file = parse(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const GgufMetadata& m = file->metadata;

  Result<std::vector<float>> scores_as_u8 = m.get_array_floats("bytes");
  ASSERT_FALSE(scores_as_u8.ok());
  EXPECT_EQ(scores_as_u8.error().code, ErrorCode::kInvalidFormat);
  EXPECT_EQ(scores_as_u8.error().message, "gguf key 'bytes': expected array of float32, got array of uint8");
  EXPECT_EQ(m.get_array_floats("general.architecture").error().message,
            "gguf key 'general.architecture': expected array of float32, got string");
  EXPECT_EQ(m.get_array_strings("tokenizer.ggml.scores").error().message,
            "gguf key 'tokenizer.ggml.scores': expected array of string, got array of float32");
  EXPECT_EQ(m.get_u32("general.architecture").error().message,
            "gguf key 'general.architecture': expected uint32, got string");
  EXPECT_EQ(m.get_string("llama.block_count").error().code, ErrorCode::kInvalidFormat);
  EXPECT_EQ(m.get_bool("llama.block_count").error().code, ErrorCode::kInvalidFormat);
  EXPECT_EQ(m.get_f32("llama.block_count").error().code, ErrorCode::kInvalidFormat);
  EXPECT_EQ(m.get_u32("tokenizer.ggml.tokens").error().message,
            "gguf key 'tokenizer.ggml.tokens': expected uint32, got array of string");
  EXPECT_EQ(m.get_array_ints("tokenizer.ggml.scores").error().code, ErrorCode::kInvalidFormat);
  EXPECT_EQ(m.get_array_length("llama.flag").error().code, ErrorCode::kInvalidFormat);

  EXPECT_EQ(m.get_u32("missing").error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(m.has("missing"));
  EXPECT_TRUE(m.has("llama.flag"));

  // Integer range checks: -5 does not fit unsigned types, 2^40 does not fit 32-bit types.
  EXPECT_EQ(m.get_u32("llama.negative").error().message, "gguf key 'llama.negative': value -5 does not fit in uint32");
  EXPECT_FALSE(m.get_u64("llama.negative").ok());
  EXPECT_EQ(*m.get_i64("llama.negative"), -5);
  EXPECT_FALSE(m.get_u32("llama.big").ok());
  EXPECT_FALSE(m.get_i32("llama.big").ok());
  EXPECT_EQ(*m.get_i64("llama.big"), int64_t{1} << 40);
}

TEST(GgufRead, ReadsFromDiskAndKeepsMappingAlive) {
  std::vector<uint8_t> bytes = every_type_file(3).build();
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("gguf_read_test_" + std::to_string(::getpid()) + ".gguf");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  Result<GgufFile> file = read_gguf(path.string());
  std::filesystem::remove(path);  // the mapping stays valid after unlink
  ASSERT_TRUE(file.ok()) << file.error().message;
  const TensorEntry* t = file->tensors.find("q6k");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(static_cast<uint8_t>(t->bytes[209]), static_cast<uint8_t>(6 + 209));

  Result<GgufFile> missing = read_gguf(path.string());
  ASSERT_FALSE(missing.ok());
}

}  // namespace
}  // namespace llm::test

namespace llm {
namespace {

using namespace test;  // NOLINT: the GGUF test writer

// Found by fuzz_gguf: an empty float array made get_array_floats memcpy from a null pointer.
TEST(GgufMetadata, EmptyArraysReadBackEmpty) {
  TestGguf spec;
  spec.version = 3;
  spec.kvs = {kv_array_f32("tokenizer.ggml.scores", {}), kv_array_i32("tokenizer.ggml.token_type", {}),
              kv_array_strings("tokenizer.ggml.tokens", {})};
  std::vector<uint8_t> bytes = spec.build();
  Result<GgufFile> file = parse_gguf(std::as_bytes(std::span(bytes)), "empty.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_TRUE(file->metadata.get_array_floats("tokenizer.ggml.scores")->empty());
  EXPECT_TRUE(file->metadata.get_array_ints("tokenizer.ggml.token_type")->empty());
  EXPECT_TRUE(file->metadata.get_array_strings("tokenizer.ggml.tokens")->empty());
}

}  // namespace
}  // namespace llm
