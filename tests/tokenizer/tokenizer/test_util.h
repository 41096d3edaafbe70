// Shared helpers for the tokenizer tests: test data paths and llama.cpp vector files.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace llm::test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// $LLAMA_TESTDATA_DIR, else shared/testdata inside or next to the checkout.
inline std::string testdata_dir() {
  if (const char* dir = std::getenv("LLAMA_TESTDATA_DIR")) return dir;
  const std::string inside = std::string(LLAMA_SOURCE_DIR) + "/shared/testdata";
  if (std::filesystem::exists(inside + "/llama-spm")) return inside;
  return std::string(LLAMA_SOURCE_DIR) + "/../shared/testdata";
}

struct VocabVector {
  std::string text;
  std::vector<int32_t> ids;
};

// llama.cpp's test-tokenizer-0 format: texts separated by "\n__ggml_vocab_test__\n" in .inp, one
// line of ids per text in .out.
inline std::vector<VocabVector> read_vocab_vectors(const std::string& inp_path, const std::string& out_path) {
  const std::string inp = read_file(inp_path), out = read_file(out_path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<VocabVector> vectors;
  for (size_t start = 0; start < inp.size();) {
    size_t end = inp.find(separator, start);
    if (end == std::string::npos) break;
    vectors.push_back({inp.substr(start, end - start), {}});
    start = end + separator.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (auto& v : vectors) {
    if (!std::getline(lines, line)) break;
    std::istringstream ids(line);
    int32_t id = 0;
    while (ids >> id) v.ids.push_back(id);
  }
  return vectors;
}

}  // namespace llm::test
