// `llama tokenize` / `llama detokenize` end to end on the Llama 2 GGUF vocabulary; expected ids
// from llama.cpp's vectors ("Hello world" = 15043 3186, "\n" = <0x0A> = 13, <s> = 1).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>

#include "tokenizer/tokenizer/test_util.h"

namespace llm {
namespace {

std::string run(const std::string& args, const std::string& stdin_text = "", int* status = nullptr) {
  // ctest runs these tests as parallel processes: each needs its own stdin file.
  static int calls = 0;
  const std::string input =
      ::testing::TempDir() + "/cli_stdin_" + std::to_string(::getpid()) + "_" + std::to_string(calls++) + ".txt";
  std::ofstream(input, std::ios::binary) << stdin_text;
  const std::string command = std::string(TOKENIZE_CLI) + " " + args + " < " + input + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int rc = pclose(pipe);
  if (status) *status = rc;
  return out;
}

const std::string kModel = test::testdata_dir() + "/llama-spm/ggml-vocab-llama-spm.gguf";

TEST(TokenizeCli, TextOptionStdinAndJson) {
  EXPECT_EQ(run("tokenize " + kModel + " --text 'Hello world'"), "1 15043 3186\n");
  EXPECT_EQ(run("tokenize " + kModel + " --text 'Hello world' --no-bos"), "15043 3186\n");
  EXPECT_EQ(run("tokenize " + kModel + " --no-bos --json", "Hello world"), "{\"tokens\":[15043,3186]}\n");
  // stdin byte for byte: the trailing newline is part of the text.
  EXPECT_EQ(run("tokenize " + kModel + " --no-bos", "Hello world\n"), "15043 3186 13\n");
  EXPECT_EQ(run("tokenize " + kModel + " --no-bos", ""), "\n");
}

TEST(TokenizeCli, Detokenize) {
  EXPECT_EQ(run("detokenize " + kModel + " --ids 15043,3186"), "Hello world");
  // Special tokens are rendered unless skipped (as Hugging Face decode does by default).
  EXPECT_EQ(run("detokenize " + kModel, "1 15043 3186 13\n"), "<s>Hello world\n");
  EXPECT_EQ(run("detokenize " + kModel + " --skip-special --json", "{\"tokens\":[1,15043]}"), "{\"text\":\"Hello\"}\n");
}

TEST(TokenizeCli, ErrorsExitNonZero) {
  int status = 0;
  run("tokenize /nonexistent --text x", "", &status);
  EXPECT_NE(status, 0);
  run("tokenize " + kModel, "bad \xFF utf8", &status);
  EXPECT_NE(status, 0);
  run("detokenize " + kModel + " --ids 1,x", "", &status);
  EXPECT_NE(status, 0);
  run("detokenize " + kModel + " --ids 99999999", "", &status);
  EXPECT_NE(status, 0);
}

}  // namespace
}  // namespace llm
