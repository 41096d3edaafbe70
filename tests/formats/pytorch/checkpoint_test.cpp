// torch.save checkpoints end to end: hand-built archives (pth_builder.h) through
// parse_pytorch_checkpoint / read_pytorch_checkpoint, and real torch-made fixtures when present.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "formats/pytorch/checkpoint.h"
#include "formats/pytorch/pth_builder.h"

namespace llm {
namespace {

using testing::as_bytes;
using testing::le;
using testing::make_zip;
using testing::PickleWriter;
using testing::ZipOptions;
using testing::ZipRecord;

void expect_error(const Result<TensorSource>& result, ErrorCode code, const std::string& needle) {
  ASSERT_FALSE(result.ok()) << "expected an error containing: " << needle;
  EXPECT_EQ(result.error().code, code) << result.error().message;
  EXPECT_NE(result.error().message.find(needle), std::string::npos)
      << "message: " << result.error().message << "\nexpected to contain: " << needle;
}

std::string to_string(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// data.pkl of torch.save({"tok.weight": bf16 (2, 3), "norm.weight": f32 (3,)}), protocol 2, as
// pickle.py writes it (memo puts after each memoizable value; repeated strings and globals are
// BINGETs; the persistent id is a 5-tuple followed by BINPERSID).
std::string torch_style_pickle() {
  static const char kBytes[] =  // contains NUL bytes: sized explicitly below
      "\x80\x02}q\x00("
      "X\x0a\x00\x00\x00" "tok.weightq\x01"
      "ctorch._utils\n_rebuild_tensor_v2\nq\x02"
      "((X\x07\x00\x00\x00" "storageq\x03"
      "ctorch\nBFloat16Storage\nq\x04"
      "X\x01\x00\x00\x00" "0q\x05"
      "X\x03\x00\x00\x00" "cpuq\x06"
      "K\x06tq\x07Q"
      "K\x00"
      "K\x02K\x03\x86q\x08"
      "K\x03K\x01\x86q\x09"
      "\x89"
      "ccollections\nOrderedDict\nq\x0a" ")Rq\x0b"
      "tq\x0cRq\x0d"
      "X\x0b\x00\x00\x00" "norm.weightq\x0e"
      "h\x02(("
      "h\x03"
      "ctorch\nFloatStorage\nq\x0f"
      "X\x01\x00\x00\x00" "1q\x10"
      "h\x06"
      "K\x03tq\x11Q"
      "K\x00"
      "K\x03\x85q\x12"
      "K\x01\x85q\x13"
      "\x89"
      "h\x0a" ")Rq\x14"
      "tq\x15Rq\x16"
      "u.";
  return std::string(kBytes, sizeof(kBytes) - 1);
}

// bf16 1.0, -2.0, 0.5, 3.0, 0.0, 1.5 (0x3F80, 0xC000, 0x3F00, 0x4040, 0x0000, 0x3FC0), little-endian.
const std::string kBf16Record = le(0x3F80, 2) + le(0xC000, 2) + le(0x3F00, 2) + le(0x4040, 2) + le(0, 2) + le(0x3FC0, 2);
// f32 1.0, 2.0, -1.0 (IEEE 754: 0x3F800000, 0x40000000, 0xBF800000), little-endian.
const std::string kF32Record = le(0x3F800000, 4) + le(0x40000000, 4) + le(0xBF800000, 4);

std::string torch_style_archive(const ZipOptions& options = {}) {
  return make_zip({ZipRecord{.name = "consolidated.00/data.pkl", .data = torch_style_pickle()},
                   ZipRecord{.name = "consolidated.00/byteorder", .data = "little"},
                   ZipRecord{.name = "consolidated.00/data/0", .data = kBf16Record},
                   ZipRecord{.name = "consolidated.00/data/1", .data = kF32Record},
                   ZipRecord{.name = "consolidated.00/version", .data = "3\n"},
                   ZipRecord{.name = "consolidated.00/.data/serialization_id", .data = "0123456789"}},
                  options);
}

void expect_torch_style_tensors(const TensorSource& source, const std::string& archive) {
  ASSERT_EQ(source.size(), 2u);
  const TensorEntry* tok = source.find("tok.weight");
  const TensorEntry* norm = source.find("norm.weight");
  ASSERT_NE(tok, nullptr);
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(tok->dtype, DType::kBF16);
  EXPECT_EQ(tok->shape, (Shape{2, 3}));
  EXPECT_EQ(to_string(tok->bytes), kBf16Record);
  EXPECT_EQ(norm->dtype, DType::kF32);
  EXPECT_EQ(norm->shape, (Shape{3}));
  EXPECT_EQ(to_string(norm->bytes), kF32Record);
  // Zero copy and 64-byte aligned within the file, as torch.save lays records out.
  const auto offset = reinterpret_cast<const char*>(tok->bytes.data()) - archive.data();
  EXPECT_GE(offset, 0);
  EXPECT_EQ(offset % 64, 0);
}

TEST(PytorchCheckpoint, LoadsTorchStyleArchive) {
  const std::string archive = torch_style_archive();
  auto source = parse_pytorch_checkpoint(as_bytes(archive), "consolidated.00.pth");
  ASSERT_TRUE(source.ok()) << source.error().message;
  expect_torch_style_tensors(*source, archive);
}

TEST(PytorchCheckpoint, LoadsMinizDataDescriptorAndZip64Archives) {
  for (const ZipOptions& options : {ZipOptions{.data_descriptor = true}, ZipOptions{.data_descriptor = true, .zip64 = true}}) {
    const std::string archive = torch_style_archive(options);
    auto source = parse_pytorch_checkpoint(as_bytes(archive), "consolidated.00.pth");
    ASSERT_TRUE(source.ok()) << source.error().message;
    expect_torch_style_tensors(*source, archive);
  }
}

TEST(PytorchCheckpoint, ReadsFromFileAndKeepsMappingAlive) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "llm_pytorch_checkpoint_test.pth";
  {
    const std::string archive = torch_style_archive();
    std::ofstream out(path, std::ios::binary);
    out.write(archive.data(), static_cast<std::streamsize>(archive.size()));
  }
  auto source = read_pytorch_checkpoint(path.string());
  std::filesystem::remove(path);  // the mapping stays valid after unlink
  ASSERT_TRUE(source.ok()) << source.error().message;
  ASSERT_NE(source->find("norm.weight"), nullptr);
  EXPECT_EQ(to_string(source->find("norm.weight")->bytes), kF32Record);
  expect_error(read_pytorch_checkpoint(path.string()), ErrorCode::kNotFound, "cannot open");
}

// A one-tensor archive around `pickle` with storage records `data` (key -> bytes).
std::string archive_with(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& data,
                         const std::string& byteorder = "little") {
  std::vector<ZipRecord> records = {ZipRecord{.name = "archive/data.pkl", .data = pickle},
                                    ZipRecord{.name = "archive/byteorder", .data = byteorder}};
  for (const auto& [key, bytes] : data) records.push_back(ZipRecord{.name = "archive/data/" + key, .data = bytes});
  return make_zip(records);
}

std::string one_tensor(std::string_view storage_type, std::string_view key, int64_t numel, int offset,
                       const std::vector<int>& size, const std::vector<int>& stride, std::string_view name = "w") {
  PickleWriter p;
  p.proto(2).empty_dict().unicode(name).tensor(storage_type, key, numel, offset, size, stride).raw("s").stop();
  return p.bytes();
}

Result<TensorSource> parse(const std::string& archive) { return parse_pytorch_checkpoint(as_bytes(archive), "t.pth"); }

TEST(PytorchCheckpoint, SharedStorageViewWithOffset) {
  // Two views of one storage of 6 floats: rows 1..2 of a [3, 2] matrix, and the whole storage.
  PickleWriter p;
  p.proto(2).empty_dict().mark();
  p.unicode("tail").tensor("FloatStorage", "0", 6, 2, {2, 2}, {2, 1});
  p.unicode("all").tensor("FloatStorage", "0", 6, 0, {3, 2}, {2, 1}).raw("u").stop();
  std::string record;
  for (uint32_t i = 0; i < 6; ++i) record += le(i, 4);
  const std::string archive = archive_with(p.bytes(), {{"0", record}});  // the views point into it
  auto source = parse(archive);
  ASSERT_TRUE(source.ok()) << source.error().message;
  EXPECT_EQ(to_string(source->find("tail")->bytes), record.substr(8, 16));
  EXPECT_EQ(to_string(source->find("all")->bytes), record);
}

TEST(PytorchCheckpoint, RefusesOsSystemAndExecutesNothing) {
  const std::filesystem::path canary = std::filesystem::temp_directory_path() / "llm_pth_canary_os_system";
  std::filesystem::remove(canary);
  PickleWriter p;
  p.proto(2).global("os", "system").mark().unicode("touch " + canary.string()).tuple().reduce().stop();
  expect_error(parse(archive_with(p.bytes(), {})), ErrorCode::kInvalidFormat,
               "t.pth: data.pkl offset 2: refused global 'os.system' (not on the allowlist; nothing was executed)");
  EXPECT_FALSE(std::filesystem::exists(canary));
}

TEST(PytorchCheckpoint, RejectsStorageSizeMismatch) {
  // CVE-2026-24747: numel x element size must equal the record size exactly.
  expect_error(parse(archive_with(one_tensor("FloatStorage", "0", 6, 0, {6}, {1}), {{"0", std::string(20, 'x')}})),
               ErrorCode::kInvalidFormat,
               "t.pth: tensor 'w': storage '0' declares 6 x Float (4 bytes each) but record 'archive/data/0' holds 20 bytes");
  expect_error(parse(archive_with(one_tensor("FloatStorage", "0", int64_t{1} << 62, 0, {1}, {1}), {{"0", "abcd"}})),
               ErrorCode::kInvalidFormat, "storage '0' declares 4611686018427387904 x Float");
}

TEST(PytorchCheckpoint, RejectsViewsOutsideStorage) {
  const std::string record(24, 'x');  // 6 floats
  expect_error(parse(archive_with(one_tensor("FloatStorage", "0", 6, 4, {3}, {1}), {{"0", record}})),
               ErrorCode::kInvalidFormat,
               "tensor 'w': view (offset 4, size (3), stride (1)) reaches past the end of storage '0' of 6 elements");
  expect_error(parse(archive_with(one_tensor("FloatStorage", "0", 6, 0, {2, 3}, {100, 1}), {{"0", record}})),
               ErrorCode::kInvalidFormat, "view (offset 0, size (2, 3), stride (100, 1)) reaches past the end");
  expect_error(parse(archive_with(one_tensor("FloatStorage", "0", 6, 7, {0}, {1}), {{"0", record}})),
               ErrorCode::kInvalidFormat, "view (offset 7, size (0), stride (1)) reaches past the end");
  expect_error(parse(archive_with(one_tensor("FloatStorage", "0", 6, 0, {2, 3}, {2147483647, 2147483647}),
                                  {{"0", record}})),
               ErrorCode::kInvalidFormat, "reaches past the end");
}

TEST(PytorchCheckpoint, EmptyAndSizeOneDimsAreContiguous) {
  auto empty = parse(archive_with(one_tensor("FloatStorage", "0", 0, 0, {0, 4}, {4, 1}), {{"0", ""}}));
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->find("w")->shape, (Shape{0, 4}));
  EXPECT_TRUE(empty->find("w")->bytes.empty());
  // PyTorch gives size-1 dims arbitrary strides (e.g. after unsqueeze); still row-major.
  auto unit = parse(archive_with(one_tensor("HalfStorage", "0", 3, 0, {1, 3}, {7, 1}), {{"0", std::string(6, 'h')}}));
  ASSERT_TRUE(unit.ok()) << unit.error().message;
  EXPECT_EQ(unit->find("w")->dtype, DType::kF16);
}

TEST(PytorchCheckpoint, RejectsNonContiguousViews) {
  expect_error(parse(archive_with(one_tensor("FloatStorage", "0", 6, 0, {3, 2}, {1, 3}), {{"0", std::string(24, 'x')}})),
               ErrorCode::kUnsupported,
               "tensor 'w': non-contiguous tensor views are not supported (size (3, 2), stride (1, 3))");
}

TEST(PytorchCheckpoint, RejectsUnsupportedDtypeNamingTheTensor) {
  expect_error(parse(archive_with(one_tensor("LongStorage", "0", 1, 0, {}, {}, "step"), {{"0", std::string(8, 0)}})),
               ErrorCode::kUnsupported, "tensor 'step': storage dtype Long is not supported");
}

TEST(PytorchCheckpoint, RejectsMissingRecordAndConflictingStorages) {
  expect_error(parse(archive_with(one_tensor("FloatStorage", "7", 1, 0, {1}, {1}), {{"0", "abcd"}})),
               ErrorCode::kInvalidFormat, "tensor 'w': storage record 'archive/data/7' is missing");
  PickleWriter p;
  p.proto(2).empty_dict().mark();
  p.unicode("a").tensor("FloatStorage", "0", 2, 0, {2}, {1});
  p.unicode("b").tensor("HalfStorage", "0", 4, 0, {4}, {1}).raw("u").stop();
  expect_error(parse(archive_with(p.bytes(), {{"0", "12345678"}})), ErrorCode::kInvalidFormat,
               "tensor 'b': storage '0' is declared as 4 Half elements here and as 2 Float elements by an earlier tensor");
}

TEST(PytorchCheckpoint, RejectsDuplicateTensorNames) {
  PickleWriter p;
  p.proto(2).empty_dict().mark();
  p.unicode("w").tensor("FloatStorage", "0", 1, 0, {1}, {1});
  p.unicode("w").tensor("FloatStorage", "0", 1, 0, {1}, {1}).raw("u").stop();
  expect_error(parse(archive_with(p.bytes(), {{"0", "abcd"}})), ErrorCode::kInvalidFormat,
               "t.pth: w: duplicate tensor name");
}

TEST(PytorchCheckpoint, RejectsBigEndianLegacyAndNonCheckpoints) {
  expect_error(parse(archive_with(one_tensor("FloatStorage", "0", 1, 0, {1}, {1}), {{"0", "abcd"}}, "big")),
               ErrorCode::kUnsupported, "byte order is 'big'; only little-endian checkpoints are supported");
  expect_error(parse(std::string("\x80\x02}q\x00.", 6)), ErrorCode::kUnsupported,
               "legacy (pre-1.6) torch.save format (raw pickle) is not supported");
  expect_error(parse(make_zip({ZipRecord{.name = "model/weights.bin", .data = "x"}})), ErrorCode::kInvalidFormat,
               "no <archive>/data.pkl record among 1 ZIP entries");
  expect_error(parse(make_zip({ZipRecord{.name = "a/data.pkl", .data = "x"}, ZipRecord{.name = "b/data.pkl", .data = "y"}})),
               ErrorCode::kInvalidFormat, "two pickles, 'a/data.pkl' and 'b/data.pkl'");
  expect_error(parse(make_zip({ZipRecord{.name = "archive/data.pkl", .data = "\x80\x02}", .method = 8}})),
               ErrorCode::kUnsupported, "uses compression method 8");
}

// The fuzz seed is written by tools/fuzz/make_pickle_seeds.py (Python's struct, not our writer).
TEST(PytorchCheckpoint, LoadsFuzzSeedMadeByPython) {
  const std::filesystem::path path = std::filesystem::path(LLAMA_SOURCE_DIR) / "fuzz/corpus/pickle/state_dict.pth";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run tools/fuzz/make_pickle_seeds.py";
  auto source = read_pytorch_checkpoint(path.string());
  ASSERT_TRUE(source.ok()) << source.error().message;
  ASSERT_EQ(source->size(), 1u);
  EXPECT_EQ(source->find("w")->dtype, DType::kBF16);
  EXPECT_EQ(source->find("w")->shape, (Shape{2, 3}));
  EXPECT_EQ(to_string(source->find("w")->bytes), kBf16Record);
}

// Real checkpoints written by torch.save (tests/fixtures/models/*/meta-mp*/consolidated.NN.pth, made
// by the fixture script); skipped until they exist. Expected shapes come from each fixture's own
// params.json (Meta layout: tok_embeddings [vocab, dim], wk [n_kv_heads * head_dim, dim], norm [dim]).
TEST(PytorchCheckpoint, LoadsTorchMadeFixtures) {
  const std::filesystem::path models = std::filesystem::path(LLAMA_SOURCE_DIR) / "tests/fixtures/models";
  int loaded = 0;
  if (std::filesystem::is_directory(models)) {
    for (const auto& model : std::filesystem::directory_iterator(models)) {
      for (const char* layout : {"meta-mp1", "meta-mp2"}) {
        const std::filesystem::path folder = model.path() / layout;
        if (!std::filesystem::is_directory(folder)) continue;
        for (const auto& file : std::filesystem::directory_iterator(folder)) {
          if (file.path().extension() != ".pth") continue;
          auto source = read_pytorch_checkpoint(file.path().string());
          ASSERT_TRUE(source.ok()) << file.path() << ": " << source.error().message;
          EXPECT_GT(source->size(), 0u) << file.path();
          for (const TensorEntry& tensor : source->tensors()) {
            EXPECT_TRUE(tensor.dtype == DType::kBF16 || tensor.dtype == DType::kF16 || tensor.dtype == DType::kF32)
                << tensor.name;
          }
          ++loaded;
          if (std::string(layout) != "meta-mp1") continue;
          std::ifstream params_file(folder / "params.json");
          if (!params_file) continue;
          const nlohmann::json params = nlohmann::json::parse(params_file);
          const int64_t dim = params.at("dim");
          const int64_t n_heads = params.at("n_heads");
          const int64_t n_kv_heads = params.value("n_kv_heads", n_heads);
          const int64_t vocab = params.at("vocab_size");
          ASSERT_NE(source->find("tok_embeddings.weight"), nullptr) << file.path();
          EXPECT_EQ(source->find("tok_embeddings.weight")->shape, (Shape{vocab, dim})) << file.path();
          ASSERT_NE(source->find("norm.weight"), nullptr) << file.path();
          EXPECT_EQ(source->find("norm.weight")->shape, (Shape{dim})) << file.path();
          ASSERT_NE(source->find("layers.0.attention.wk.weight"), nullptr) << file.path();
          EXPECT_EQ(source->find("layers.0.attention.wk.weight")->shape, (Shape{n_kv_heads * (dim / n_heads), dim}))
              << file.path();
        }
      }
    }
  }
  EXPECT_GT(loaded, 0) << "no torch-made fixtures under " << models;
}

}  // namespace
}  // namespace llm
