// Reference parsing: defaults and forms from Ollama's types/model/name.go; hostile names refused.
#include <gtest/gtest.h>

#include "formats/ollama/ollama_name.h"

namespace llm {
namespace {

TEST(OllamaName, Forms) {
  struct Case {
    const char* reference;
    const char* host;
    const char* model_namespace;
    const char* model;
    const char* tag;
    const char* display;
  };
  const Case cases[] = {
      {"ollama://llama3.1:8b", "registry.ollama.ai", "library", "llama3.1", "8b", "llama3.1:8b"},
      {"ollama:llama3.1", "registry.ollama.ai", "library", "llama3.1", "latest", "llama3.1:latest"},
      {"llama3.1", "registry.ollama.ai", "library", "llama3.1", "latest", "llama3.1:latest"},
      {"me/mine:q4_K_M", "registry.ollama.ai", "me", "mine", "q4_K_M", "me/mine:q4_K_M"},
      {"example.com/team/model-x:1.0", "example.com", "team", "model-x", "1.0", "example.com/team/model-x:1.0"},
      {"hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "hf.co", "bartowski", "Llama-3.2-1B-Instruct-GGUF",
       "Q4_K_M", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"},
  };
  for (const Case& c : cases) {
    Result<OllamaName> name = parse_ollama_name(c.reference);
    ASSERT_TRUE(name.ok()) << c.reference << ": " << name.error().message;
    EXPECT_EQ(name->host, c.host) << c.reference;
    EXPECT_EQ(name->model_namespace, c.model_namespace) << c.reference;
    EXPECT_EQ(name->model, c.model) << c.reference;
    EXPECT_EQ(name->tag, c.tag) << c.reference;
    EXPECT_EQ(name->display(), c.display) << c.reference;
  }
  EXPECT_EQ(parse_ollama_name("llama3.1:8b")->manifest_relative_path(), "registry.ollama.ai/library/llama3.1/8b");
}

TEST(OllamaName, TraversalAndBadCharactersAreRefused) {
  const char* bad[] = {
      "..",           "../../etc/passwd", "ollama://..:latest", "library/..:x", "a/b/c/d:e",   "model:..",
      "model:../x",   "/abs",             "model:",             ":tag",         "mo del",      "mo\\del",
      "a..b",         ".hidden",          "model:-x",           "ollama://",    "",            "m@sha256:00",
      "model:tag:x",  "x/",
  };
  for (const char* reference : bad) {
    Result<OllamaName> name = parse_ollama_name(reference);
    ASSERT_FALSE(name.ok()) << "accepted '" << reference << "'";
    EXPECT_EQ(name.error().code, ErrorCode::kInvalidArgument) << reference;
  }
  EXPECT_EQ(parse_ollama_name("library/..:x").error().message,
            "ollama model name: model '..' must start with a letter or digit (in 'library/..:x')");
  EXPECT_EQ(parse_ollama_name("a..b").error().message,
            "ollama model name: model 'a..b' contains \"..\" (in 'a..b')");
  EXPECT_FALSE(parse_ollama_name(std::string(81, 'm')).ok());
  EXPECT_TRUE(parse_ollama_name(std::string(80, 'm')).ok());
}

}  // namespace
}  // namespace llm
