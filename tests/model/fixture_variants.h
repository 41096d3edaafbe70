// The golden fixtures (tests/fixtures/models/FIXTURE/VARIANT, made by tools/make_fixtures.py with
// transformers in float32): listing, expected tokens and logits, and the path a user would pass.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "util/json.h"
#include "util/mapped_file.h"

namespace llm::fixtures {

namespace fs = std::filesystem;

struct Variant {
  std::string name;  // "gqa-llama3/hf"
  fs::path dir;
};

inline std::vector<Variant> all_variants() {
  std::vector<Variant> variants;
  fs::path root = fs::path(LLAMA_SOURCE_DIR) / "tests/fixtures/models";
  if (!fs::exists(root)) return variants;
  for (const auto& fixture : fs::directory_iterator(root)) {
    if (!fixture.is_directory()) continue;
    for (const auto& variant : fs::directory_iterator(fixture.path())) {
      if (fs::exists(variant.path() / "expected.json")) {
        variants.push_back({fixture.path().filename().string() + "/" + variant.path().filename().string(),
                            variant.path()});
      }
    }
  }
  std::sort(variants.begin(), variants.end(), [](const Variant& a, const Variant& b) { return a.name < b.name; });
  return variants;
}

struct Expected {
  std::vector<int32_t> prompt;
  std::vector<int32_t> greedy;
  std::vector<float> logits;  // [greedy.size(), vocab]
  int64_t vocab = 0;
};

inline Expected read_expected(const fs::path& dir) {
  Expected expected;
  Json json = parse_json(read_text_file((dir / "expected.json").string()).value(), "expected.json").value();
  expected.prompt = json["prompt_tokens"].get<std::vector<int32_t>>();
  expected.greedy = json["greedy_tokens"].get<std::vector<int32_t>>();
  expected.vocab = json["logits_shape"][1].get<int64_t>();
  std::ifstream in(dir / "logits.f32", std::ios::binary);
  expected.logits.resize(expected.greedy.size() * static_cast<size_t>(expected.vocab));
  in.read(reinterpret_cast<char*>(expected.logits.data()), static_cast<std::streamsize>(expected.logits.size() * 4));
  EXPECT_TRUE(in.good()) << "logits.f32 of " << dir;
  return expected;
}

// The directory, or the .gguf inside a gguf-* variant.
inline std::string model_path(const fs::path& dir) {
  if (fs::exists(dir / "model.gguf")) return (dir / "model.gguf").string();
  return dir.string();
}

// The largest |a - b| and where it is ("step 2 token 17: 0.51 vs 0.52").
struct Worst {
  double diff = 0;
  std::string where;
};
inline Worst worst_difference(const std::vector<float>& a, const std::vector<float>& b, int64_t vocab) {
  Worst worst;
  if (a.size() != b.size()) return Worst{INFINITY, "sizes differ"};
  for (size_t i = 0; i < a.size(); ++i) {
    double diff = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (std::isnan(diff)) diff = INFINITY;
    if (diff > worst.diff) {
      worst.diff = diff;
      worst.where = "step " + std::to_string(i / static_cast<size_t>(vocab)) + " token " +
                    std::to_string(i % static_cast<size_t>(vocab)) + ": " + std::to_string(a[i]) + " vs " +
                    std::to_string(b[i]);
    }
  }
  return worst;
}

inline std::string test_name(std::string name) {
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

}  // namespace llm::fixtures
