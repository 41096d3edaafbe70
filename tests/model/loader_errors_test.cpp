// Broken checkpoints give a clear error naming what is wrong: each case copies a good fixture
// into a temp dir and damages it the way real downloads and conversions go wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "model/loader.h"
#include "util/json.h"
#include "util/mapped_file.h"

namespace llm {
namespace {

namespace fs = std::filesystem;

fs::path fixture(const std::string& name) { return fs::path(LLAMA_SOURCE_DIR) / "tests/fixtures/models" / name; }

class LoaderErrors : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("llm_loader_" + std::to_string(::getpid()) + "_" +
                                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path copy(const std::string& name) {
    fs::copy(fixture(name), dir_, fs::copy_options::recursive);
    return dir_;
  }
  void edit_json(const fs::path& path, const std::function<void(Json&)>& change) {
    Json json = parse_json(read_text_file(path.string()).value(), path.string()).value();
    change(json);
    std::ofstream(path) << json.dump(2);
  }
  std::string load_error(const fs::path& path) {
    Result<std::unique_ptr<LoadedModel>> model = load_model(path.string(), LoadOptions{});
    EXPECT_FALSE(model.ok()) << path;
    return model.ok() ? "" : model.error().message;
  }

  fs::path dir_;
};

TEST_F(LoaderErrors, MissingLayer) {
  fs::path d = copy("gqa-llama3/hf");
  edit_json(d / "config.json", [](Json& c) { c["num_hidden_layers"] = 3; });
  EXPECT_EQ(load_error(d), "model.layers.2.input_layernorm.weight: missing from the hugging face safetensors checkpoint");
}

TEST_F(LoaderErrors, WrongShape) {
  fs::path d = copy("gqa-llama3/hf");
  edit_json(d / "config.json", [](Json& c) { c["intermediate_size"] = 128; });
  EXPECT_EQ(load_error(d), "model.layers.0.mlp.gate_proj.weight: expected shape [128, 64], got [160, 64]");
}

TEST_F(LoaderErrors, TruncatedSafetensors) {
  fs::path d = copy("gqa-llama3/hf");
  fs::resize_file(d / "model.safetensors", fs::file_size(d / "model.safetensors") - 100);
  EXPECT_NE(load_error(d).find("model.safetensors"), std::string::npos);
}

TEST_F(LoaderErrors, MissingSafetensorsShard) {
  fs::path d = copy("odd-llama3/hf-sharded");
  fs::remove(d / "model-00002-of-00003.safetensors");
  EXPECT_NE(load_error(d).find("model-00002-of-00003.safetensors"), std::string::npos);
}

TEST_F(LoaderErrors, MissingMetaShard) {
  fs::path d = copy("mha-tied/meta-mp2");
  fs::remove(d / "consolidated.00.pth");
  EXPECT_EQ(load_error(d), d.string() + ": consolidated.00.pth is missing (found 1 shards up to consolidated.1)");
}

TEST_F(LoaderErrors, ShardCountThatDoesNotAddUp) {
  fs::path d = copy("mha-tied/meta-mp2");
  fs::copy_file(d / "consolidated.01.pth", d / "consolidated.02.pth");
  // Three shards of a two-way split: the merged tensors hold 3/2 of the rows.
  EXPECT_EQ(load_error(d), "layers.0.attention.wk.weight: shards hold 96 rows in total, expected 64 (or a whole "
                           "multiple of it when kv heads are replicated)");
}

TEST_F(LoaderErrors, NotAModel) {
  fs::create_directories(dir_);
  EXPECT_EQ(load_error(dir_), dir_.string() + ": not a model directory (expected config.json + *.safetensors, or "
                                              "params.json + consolidated.NN.pth)");
  EXPECT_EQ(load_error(dir_ / "nope"), (dir_ / "nope").string() +
                                           ": no such file or directory (a model is a directory, a .gguf file or "
                                           "ollama://NAME:TAG)");
}

TEST_F(LoaderErrors, GgufThatIsNotLlama) {
  fs::create_directories(dir_);
  // A GGUF v3 with one KV general.architecture = "gpt2" and no tensors, written by hand.
  std::string bytes("GGUF", 4);
  auto u32 = [&](uint32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { bytes.append(reinterpret_cast<const char*>(&v), 8); };
  u32(3);
  u64(0);
  u64(1);
  std::string key = "general.architecture", value = "gpt2";
  u64(key.size());
  bytes += key;
  u32(8);  // string
  u64(value.size());
  bytes += value;
  std::ofstream(dir_ / "m.gguf", std::ios::binary) << bytes;
  EXPECT_EQ(load_error(dir_ / "m.gguf"),
            (dir_ / "m.gguf").string() + ": general.architecture \"gpt2\" is not supported (expected \"llama\")");
}

TEST_F(LoaderErrors, OllamaModelMissing) {
  fs::create_directories(dir_ / "manifests");
  Result<std::unique_ptr<LoadedModel>> model =
      load_model("ollama://llama3.1:8b", LoadOptions{.ollama_models_dir = dir_.string()});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace llm
