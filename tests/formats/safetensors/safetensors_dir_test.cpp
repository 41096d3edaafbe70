// Model directories: sharded with model.safetensors.index.json, a single model.safetensors, and
// model-K-of-N.safetensors without an index. Files are hand-built in a temp dir.
#include <initializer_list>
#include <string>

#include <gtest/gtest.h>

#include "formats/safetensors/safetensors.h"
#include "formats/safetensors/safetensors_test_files.h"

namespace llm {
namespace {

using testing::safetensors_bytes;
using testing::TempDir;

constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
constexpr const char* kShard2 = "model-00002-of-00002.safetensors";

// A file holding one F32 [1] tensor per name, each with 4 bytes "<name's first char> x 4".
std::string f32_file(std::initializer_list<std::string> names) {
  std::string header = "{", data;
  uint64_t offset = 0;
  for (const std::string& name : names) {
    header += (offset ? "," : "") + std::string("\"") + name + R"(":{"dtype":"F32","shape":[1],"data_offsets":[)" +
              std::to_string(offset) + "," + std::to_string(offset + 4) + "]}";
    data += std::string(4, name[0]);
    offset += 4;
  }
  return safetensors_bytes(header + "}", data);
}

std::string index_json(const std::string& weight_map_body) {
  return R"({"metadata":{"total_size":8},"weight_map":{)" + weight_map_body + "}}";
}

void expect_dir_error(const TempDir& dir, ErrorCode code, const std::string& substring) {
  Result<TensorSource> result = read_safetensors_dir(dir.str());
  ASSERT_FALSE(result.ok()) << "expected an error containing: " << substring;
  EXPECT_EQ(result.error().code, code) << result.error().to_string();
  EXPECT_NE(result.error().message.find(substring), std::string::npos)
      << "message: " << result.error().message << "\nexpected substring: " << substring;
}

// ---- with model.safetensors.index.json ----

TEST(SafetensorsDir, IndexReadsEveryShard) {
  TempDir dir;
  dir.write(kShard1, f32_file({"a", "c"}));
  dir.write(kShard2, f32_file({"b"}));
  dir.write("model.safetensors.index.json",
            index_json(R"("a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors",)"
                       R"("c":"model-00001-of-00002.safetensors")"));
  Result<TensorSource> source = read_safetensors_dir(dir.str());
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  ASSERT_EQ(source->size(), 3u);
  EXPECT_EQ(testing::to_string(source->find("a")->bytes), "aaaa");
  EXPECT_EQ(testing::to_string(source->find("b")->bytes), "bbbb");
  EXPECT_EQ(testing::to_string(source->find("c")->bytes), "cccc");
}

TEST(SafetensorsDir, IndexWinsOverSingleFile) {
  TempDir dir;
  dir.write(kShard1, f32_file({"a"}));
  dir.write("model.safetensors", f32_file({"z"}));
  dir.write("model.safetensors.index.json", index_json(R"("a":"model-00001-of-00002.safetensors")"));
  Result<TensorSource> source = read_safetensors_dir(dir.str());
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  EXPECT_EQ(source->size(), 1u);
  EXPECT_NE(source->find("a"), nullptr);
}

TEST(SafetensorsDir, MissingShard) {
  TempDir dir;
  dir.write("model-00001-of-00003.safetensors", f32_file({"a"}));
  dir.write("model.safetensors.index.json",
            index_json(R"("a":"model-00001-of-00003.safetensors","b":"model-00002-of-00003.safetensors")"));
  expect_dir_error(dir, ErrorCode::kNotFound,
                   "model-00002-of-00003.safetensors: missing shard listed in model.safetensors.index.json");
}

TEST(SafetensorsDir, ShardNamesMustBePlainBasenames) {
  for (const char* shard : {"../x.safetensors", "/etc/x.safetensors", "sub/x.safetensors", "..", ".", "",
                            "a\\\\b.safetensors"}) {
    SCOPED_TRACE(shard);
    TempDir dir;
    dir.write(kShard1, f32_file({"a"}));
    dir.write("model.safetensors.index.json",
              index_json(R"("a":"model-00001-of-00002.safetensors","b":")" + std::string(shard) + "\""));
    expect_dir_error(dir, ErrorCode::kInvalidFormat, "must be a plain file name inside the model directory");
  }
}

TEST(SafetensorsDir, ListedTensorAbsentFromShard) {
  TempDir dir;
  dir.write(kShard1, f32_file({"a"}));
  dir.write("model.safetensors.index.json",
            index_json(R"("a":"model-00001-of-00002.safetensors","c":"model-00001-of-00002.safetensors")"));
  expect_dir_error(dir, ErrorCode::kInvalidFormat,
                   "model-00001-of-00002.safetensors: tensor \"c\" is listed in model.safetensors.index.json but "
                   "absent from the shard");
}

TEST(SafetensorsDir, ShardTensorNotInIndex) {
  TempDir dir;
  dir.write(kShard1, f32_file({"a", "extra"}));
  dir.write("model.safetensors.index.json", index_json(R"("a":"model-00001-of-00002.safetensors")"));
  expect_dir_error(dir, ErrorCode::kInvalidFormat,
                   "model-00001-of-00002.safetensors: tensor \"extra\" is not listed in model.safetensors.index.json");
}

// A tensor in two shards: the index can name only one, so the other shard is caught.
TEST(SafetensorsDir, ShardTensorListedUnderAnotherShard) {
  TempDir dir;
  dir.write(kShard1, f32_file({"a"}));
  dir.write(kShard2, f32_file({"a", "b"}));
  dir.write("model.safetensors.index.json",
            index_json(R"("a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors")"));
  expect_dir_error(dir, ErrorCode::kInvalidFormat,
                   "model-00002-of-00002.safetensors: tensor \"a\" is listed in model.safetensors.index.json under "
                   "model-00001-of-00002.safetensors");
}

TEST(SafetensorsDir, MalformedIndex) {
  struct Case {
    std::string text;
    std::string error;
  };
  for (const Case& c : {Case{"[]", "must be a JSON object, got array"},
                        Case{"{}", "\"weight_map\" must be an object of tensor -> file"},
                        Case{R"({"weight_map":[]})", "\"weight_map\" must be an object of tensor -> file"},
                        Case{R"({"weight_map":{}})", "\"weight_map\" is empty"},
                        Case{R"({"weight_map":{"a":3}})", "weight_map[\"a\"] must be a file name string, got 3"},
                        Case{R"({"weight_map":{"a":"x","a":"y"}})", "duplicate key \"a\""},
                        Case{"{", "not valid JSON"}}) {
    SCOPED_TRACE(c.text);
    TempDir dir;
    dir.write("model.safetensors.index.json", c.text);
    expect_dir_error(dir, ErrorCode::kInvalidFormat, c.error);
  }
}

TEST(SafetensorsDir, BadShardErrorNamesTheShard) {
  TempDir dir;
  dir.write(kShard1, safetensors_bytes("{}", "trailing"));
  dir.write("model.safetensors.index.json", index_json(R"("a":"model-00001-of-00002.safetensors")"));
  expect_dir_error(dir, ErrorCode::kInvalidFormat, "model-00001-of-00002.safetensors: tensors end at data byte 0");
}

// ---- without an index ----

TEST(SafetensorsDir, SingleFile) {
  TempDir dir;
  dir.write("model.safetensors", f32_file({"w"}));
  Result<TensorSource> source = read_safetensors_dir(dir.str());
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  ASSERT_EQ(source->size(), 1u);
  EXPECT_EQ(testing::to_string(source->find("w")->bytes), "wwww");
}

TEST(SafetensorsDir, NumberedShardsWithoutIndex) {
  TempDir dir;
  dir.write("model-00003-of-00003.safetensors", f32_file({"c"}));
  dir.write("model-00001-of-00003.safetensors", f32_file({"a"}));
  dir.write("model-00002-of-00003.safetensors", f32_file({"b"}));
  dir.write("config.json", "{}");
  Result<TensorSource> source = read_safetensors_dir(dir.str());
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  ASSERT_EQ(source->size(), 3u);
  // Shard order, whatever order the directory lists them in.
  EXPECT_EQ(source->tensors()[0].name, "a");
  EXPECT_EQ(source->tensors()[1].name, "b");
  EXPECT_EQ(source->tensors()[2].name, "c");
}

TEST(SafetensorsDir, NumberedShardsMissingOne) {
  TempDir dir;
  dir.write("model-00001-of-00003.safetensors", f32_file({"a"}));
  dir.write("model-00003-of-00003.safetensors", f32_file({"c"}));
  expect_dir_error(dir, ErrorCode::kNotFound,
                   "model-00002-of-00003.safetensors: missing shard (found 2 of 3 model-*-of-00003.safetensors files)");
}

TEST(SafetensorsDir, NumberedShardsDisagreeOnCount) {
  TempDir dir;
  dir.write("model-00001-of-00002.safetensors", f32_file({"a"}));
  dir.write("model-00002-of-00003.safetensors", f32_file({"b"}));
  expect_dir_error(dir, ErrorCode::kInvalidFormat, "shard files disagree on the shard count");
}

TEST(SafetensorsDir, NumberedShardOutOfRange) {
  TempDir dir;
  dir.write("model-00000-of-00001.safetensors", f32_file({"a"}));
  expect_dir_error(dir, ErrorCode::kInvalidFormat, "model-00000-of-00001.safetensors: shard number 0 is outside 1..1");
}

TEST(SafetensorsDir, NumberedShardsClaimingSameNumber) {
  TempDir dir;
  dir.write("model-00001-of-00002.safetensors", f32_file({"a"}));
  dir.write("model-1-of-00002.safetensors", f32_file({"b"}));
  expect_dir_error(dir, ErrorCode::kInvalidFormat, "two files claim shard 1");
}

TEST(SafetensorsDir, DuplicateTensorAcrossNumberedShards) {
  TempDir dir;
  dir.write(kShard1, f32_file({"a"}));
  dir.write(kShard2, f32_file({"a"}));
  expect_dir_error(dir, ErrorCode::kInvalidFormat, "model-00002-of-00002.safetensors: a: duplicate tensor name");
}

TEST(SafetensorsDir, NothingToRead) {
  TempDir dir;
  dir.write("config.json", "{}");
  expect_dir_error(dir, ErrorCode::kNotFound,
                   ": no model.safetensors.index.json, model.safetensors or model-*-of-*.safetensors files");
  Result<TensorSource> missing = read_safetensors_dir(dir.str() + "/absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("absent: not a directory"), std::string::npos) << missing.error().message;
}

}  // namespace
}  // namespace llm
