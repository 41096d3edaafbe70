// Resolution against a store built in a temp dir by the test, laid out as Ollama does
// (manifests/<host>/<namespace>/<model>/<tag>, blobs/sha256-<hex>).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "formats/ollama/ollama_store.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kModelHex(64, 'a');
const std::string kParamsHex(64, 'b');
const std::string kTemplateHex(64, 'c');
const std::string kGguf = "GGUF\x03\x00\x00\x00 not really a model";
const std::string kParams = R"({"stop":["<|start_header_id|>","<|eot_id|>"],"num_ctx":8192})";
const std::string kTemplate = "{{ .Prompt }}";

std::string layer(const std::string& media_type, const std::string& digest, size_t size) {
  return R"({"mediaType":"application/vnd.ollama.image.)" + media_type + R"(","digest":")" + digest +
         R"(","size":)" + std::to_string(size) + "}";
}

class OllamaStore : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ollama_store_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    write_blob(kModelHex, kGguf);
    write_blob(kParamsHex, kParams);
    write_blob(kTemplateHex, kTemplate);
    options_.root = root_.string();
  }
  void TearDown() override { fs::remove_all(root_); }

  void write_file(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << content;
  }
  void write_blob(const std::string& hex, const std::string& content) {
    write_file(root_ / "blobs" / ("sha256-" + hex), content);
  }
  void write_manifest(const std::string& relative, const std::string& layers) {
    write_file(root_ / "manifests" / relative,
               R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
               R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:)" +
                   std::string(64, 'd') + R"(","size":10},"layers":[)" + layers + "]}");
  }
  std::string good_layers() {
    return layer("model", "sha256:" + kModelHex, kGguf.size()) + "," +
           layer("template", "sha256:" + kTemplateHex, kTemplate.size()) + "," +
           layer("params", "sha256:" + kParamsHex, kParams.size());
  }

  fs::path root_;
  OllamaStoreOptions options_;
};

TEST_F(OllamaStore, ResolvesGoodModel) {
  write_manifest("registry.ollama.ai/library/llama3.1/8b", good_layers());
  Result<OllamaModel> model = resolve_ollama_model("ollama://llama3.1:8b", options_);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ(model->model_path, (root_ / "blobs" / ("sha256-" + kModelHex)).string());
  EXPECT_EQ(model->model_digest, "sha256:" + kModelHex);
  EXPECT_EQ(model->model_size, kGguf.size());
  EXPECT_EQ(model->manifest_path, (root_ / "manifests/registry.ollama.ai/library/llama3.1/8b").string());
  ASSERT_TRUE(model->params.has_value());
  EXPECT_EQ((*model->params)["stop"][1], "<|eot_id|>");
  EXPECT_EQ((*model->params)["num_ctx"], 8192);
  EXPECT_EQ(model->template_text, kTemplate);
  EXPECT_FALSE(model->system_prompt.has_value());
}

TEST_F(OllamaStore, DigestWithDashAndNoOptionalLayers) {
  write_manifest("example.com/team/m/latest", layer("model", "sha256-" + kModelHex, kGguf.size()));
  Result<OllamaModel> model = resolve_ollama_model("example.com/team/m", options_);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_FALSE(model->params.has_value());
  EXPECT_FALSE(model->template_text.has_value());
}

TEST_F(OllamaStore, RootFromEnvironmentValues) {
  write_manifest("registry.ollama.ai/library/llama3.1/latest", good_layers());
  OllamaStoreOptions from_models{.root = "", .env_ollama_models = root_.string(), .env_home = "/nonexistent"};
  EXPECT_TRUE(resolve_ollama_model("llama3.1", from_models).ok());
  OllamaStoreOptions from_home{.root = "", .env_ollama_models = "", .env_home = "/home/someone"};
  EXPECT_EQ(*ollama_store_root(from_home), "/home/someone/.ollama/models");
  EXPECT_EQ(ollama_store_root(OllamaStoreOptions{}).error().code, ErrorCode::kNotFound);
}

TEST_F(OllamaStore, MissingTag) {
  write_manifest("registry.ollama.ai/library/llama3.1/8b", good_layers());
  Result<OllamaModel> model = resolve_ollama_model("llama3.1:70b", options_);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(model.error().message, HasSubstr("ollama model 'llama3.1:70b' not found: no manifest at "));
}

TEST_F(OllamaStore, MissingBlob) {
  write_manifest("registry.ollama.ai/library/llama3.1/8b", layer("model", "sha256:" + std::string(64, 'e'), 5));
  Result<OllamaModel> model = resolve_ollama_model("llama3.1:8b", options_);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(model.error().message, HasSubstr("sha256-eeee"));
  EXPECT_THAT(model.error().message, HasSubstr("is missing"));
}

TEST_F(OllamaStore, SizeMismatch) {
  write_manifest("registry.ollama.ai/library/llama3.1/8b", layer("model", "sha256:" + kModelHex, kGguf.size() + 1));
  Result<OllamaModel> model = resolve_ollama_model("llama3.1:8b", options_);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::kInvalidFormat);
  EXPECT_THAT(model.error().message,
              HasSubstr("has " + std::to_string(kGguf.size()) + " bytes, the manifest says " +
                        std::to_string(kGguf.size() + 1)));
}

TEST_F(OllamaStore, BadDigests) {
  for (const std::string& digest : {"sha256:" + std::string(63, 'a'), "sha256:" + std::string(64, 'A'),
                                    "sha512:" + kModelHex, "sha256:../../../../etc/passwd" + std::string(43, 'a'),
                                    "sha256/" + kModelHex, std::string("")}) {
    write_manifest("registry.ollama.ai/library/llama3.1/8b", layer("model", digest, kGguf.size()));
    Result<OllamaModel> model = resolve_ollama_model("llama3.1:8b", options_);
    ASSERT_FALSE(model.ok()) << digest;
    EXPECT_EQ(model.error().code, ErrorCode::kInvalidFormat) << digest;
    EXPECT_THAT(model.error().message, HasSubstr("does not match sha256:<64 lowercase hex digits>")) << digest;
  }
}

TEST_F(OllamaStore, TraversalInNameNeverTouchesTheFileSystem) {
  // A manifest placed where a traversal would find it must stay unreachable.
  write_file(root_ / "manifests" / "evil", "{}");
  for (const char* reference : {"../evil", "ollama://../../manifests/evil", "library/..:evil", "a/b/../evil:x"}) {
    Result<OllamaModel> model = resolve_ollama_model(reference, options_);
    ASSERT_FALSE(model.ok()) << reference;
    EXPECT_EQ(model.error().code, ErrorCode::kInvalidArgument) << reference;
  }
}

TEST_F(OllamaStore, NoModelLayerOrTwo) {
  write_manifest("registry.ollama.ai/library/llama3.1/8b", layer("params", "sha256:" + kParamsHex, kParams.size()));
  Result<OllamaModel> model = resolve_ollama_model("llama3.1:8b", options_);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::kInvalidFormat);
  EXPECT_THAT(model.error().message, HasSubstr("no application/vnd.ollama.image.model layer"));

  write_manifest("registry.ollama.ai/library/llama3.1/8b",
                 layer("model", "sha256:" + kModelHex, kGguf.size()) + "," +
                     layer("model", "sha256:" + kModelHex, kGguf.size()));
  model = resolve_ollama_model("llama3.1:8b", options_);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.error().message, HasSubstr("more than one application/vnd.ollama.image.model layer"));
}

TEST_F(OllamaStore, BrokenManifests) {
  for (const std::string& text : {std::string("not json"), std::string("[]"), std::string(R"({"layers":{}})"),
                                  std::string(R"({"layers":[{"mediaType":"x"}]})"),
                                  std::string(R"({"layers":[{"mediaType":"application/vnd.ollama.image.model",)"
                                              R"("digest":"sha256:)" + kModelHex + R"(","size":-1}]})")}) {
    write_file(root_ / "manifests/registry.ollama.ai/library/llama3.1/8b", text);
    Result<OllamaModel> model = resolve_ollama_model("llama3.1:8b", options_);
    ASSERT_FALSE(model.ok()) << text;
    EXPECT_EQ(model.error().code, ErrorCode::kInvalidFormat) << text << ": " << model.error().message;
  }
}

TEST_F(OllamaStore, ParamsMustBeAnObject) {
  write_blob(kParamsHex, "[1,2]");
  write_manifest("registry.ollama.ai/library/llama3.1/8b",
                 layer("model", "sha256:" + kModelHex, kGguf.size()) + "," + layer("params", "sha256:" + kParamsHex, 5));
  Result<OllamaModel> model = resolve_ollama_model("llama3.1:8b", options_);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.error().message, HasSubstr("params: expected a JSON object"));
}

TEST_F(OllamaStore, ListsModels) {
  write_manifest("registry.ollama.ai/library/llama3.1/8b", good_layers());
  write_manifest("registry.ollama.ai/library/llama3.1/latest", good_layers());
  write_manifest("registry.ollama.ai/me/mine/q4", good_layers());
  write_manifest("hf.co/org/model/Q8_0", good_layers());
  write_file(root_ / "manifests/registry.ollama.ai/library/.hidden/latest", "{}");  // invalid part: skipped
  write_file(root_ / "manifests/registry.ollama.ai/library/stray-file", "{}");      // wrong depth: skipped
  Result<std::vector<std::string>> names = list_ollama_models(options_);
  ASSERT_TRUE(names.ok()) << names.error().message;
  EXPECT_EQ(*names, (std::vector<std::string>{"hf.co/org/model:Q8_0", "llama3.1:8b", "llama3.1:latest", "me/mine:q4"}));

  OllamaStoreOptions empty{.root = (root_ / "nothing-here").string(), .env_ollama_models = "", .env_home = ""};
  EXPECT_TRUE(list_ollama_models(empty)->empty());
}

}  // namespace
}  // namespace llm
