// Unit tests: UTF-8 handling (expected values from the Unicode standard), GPT-2's byte map,
// added-token matching, streaming detokenization, and hostile inputs and files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "tokenizer/tokenizer/test_util.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/loaders.h"
#include "tokenizer/utf8.h"

namespace llm {
namespace {

TEST(Utf8, RejectsOverlongsSurrogatesAndOutOfRange) {
  EXPECT_EQ(utf8_first_invalid("plain ascii"), 11u);
  EXPECT_EQ(utf8_first_invalid("h\xC3\xA9llo \xF0\x9F\xA6\x99"), 11u);
  EXPECT_EQ(utf8_first_invalid("a\xC0\x80"), 1u);          // overlong NUL
  EXPECT_EQ(utf8_first_invalid("ab\xED\xA0\x80"), 2u);     // surrogate U+D800
  EXPECT_EQ(utf8_first_invalid("\xF4\x90\x80\x80"), 0u);   // above U+10FFFF
  EXPECT_EQ(utf8_first_invalid("abc\xE2\x82"), 3u);        // truncated
  EXPECT_EQ(utf8_first_invalid("\xFF"), 0u);
}

TEST(Utf8, SanitizeReplacesMaximalSubparts) {
  // Unicode 15 section 3.9, Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
  EXPECT_EQ(utf8_sanitize("a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d"),
            "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd");
  EXPECT_EQ(utf8_sanitize("ok \xF0\x9F\xA6\x99"), "ok \xF0\x9F\xA6\x99");
}

TEST(ByteUnicodeMap, MatchesGpt2Table) {
  const ByteUnicodeMap map;
  // GPT-2 encoder.py bytes_to_unicode: space -> U+0120 'Ġ', newline -> U+010A 'Ċ', 'a' -> 'a'.
  EXPECT_EQ(map.code_point(' '), 0x120u);
  EXPECT_EQ(map.code_point('\n'), 0x10Au);
  EXPECT_EQ(map.code_point('a'), uint32_t{'a'});
  std::string bytes;
  ASSERT_TRUE(map.decode("\xC4\xA0hello\xC4\x8A", bytes));
  EXPECT_EQ(bytes, " hello\n");
  EXPECT_FALSE(map.decode("\xE4\xB8\xAD", bytes));  // 中 is not a byte character
  EXPECT_EQ(map.encode(" hello\n"), "\xC4\xA0hello\xC4\x8A");
}

TEST(AddedTokens, LeftmostLongestAndSpecialGate) {
  AddedTokenMatcher matcher;
  matcher.add({"<|a|>", 10, true});
  matcher.add({"<|a|>b", 11, true});
  matcher.add({"xy", 12, false});
  const std::string text = "q<|a|>bxy<|a|>";
  auto fragments = matcher.split(text, /*parse_special=*/true);
  ASSERT_EQ(fragments.size(), 4u);
  EXPECT_EQ(fragments[0].token, -1);
  EXPECT_EQ(fragments[1].token, 11);
  EXPECT_EQ(fragments[2].token, 12);
  EXPECT_EQ(fragments[3].token, 10);
  fragments = matcher.split(text, /*parse_special=*/false);
  ASSERT_EQ(fragments.size(), 3u);  // "q<|a|>b", xy, "<|a|>"
  EXPECT_EQ(fragments[1].token, 12);
  EXPECT_EQ(fragments[2].length, 5u);
}

std::string spm_gguf() { return test::testdata_dir() + "/llama-spm/ggml-vocab-llama-spm.gguf"; }

TEST(StreamingDetokenizer, HoldsBackPartialUtf8) {
  auto tokenizer = load_tokenizer(spm_gguf());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  // 🦙 is not in the Llama 2 vocabulary: four byte tokens <0xF0> <0x9F> <0xA6> <0x99> (ids = byte + 3).
  auto ids = (*tokenizer)->encode("\xF0\x9F\xA6\x99", EncodeOptions{.add_bos = false});
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(*ids, (std::vector<int32_t>{29871, 0xF0 + 3, 0x9F + 3, 0xA6 + 3, 0x99 + 3}));
  StreamingDetokenizer stream(**tokenizer, DecodeOptions{});
  std::vector<std::string> chunks;
  for (int32_t id : *ids) chunks.push_back(stream.push(id).value());
  EXPECT_EQ(chunks, (std::vector<std::string>{"", "", "", "", "\xF0\x9F\xA6\x99"}));
  EXPECT_EQ(stream.finish(), "");
  // A stream that stops inside the character flushes U+FFFD at the end.
  StreamingDetokenizer cut(**tokenizer, DecodeOptions{});
  EXPECT_EQ(cut.push(0xF0 + 3).value(), "");
  EXPECT_EQ(cut.push(0x9F + 3).value(), "");
  EXPECT_EQ(cut.finish(), "\uFFFD");
  // A byte that cannot continue the sequence is emitted at once as U+FFFD.
  StreamingDetokenizer bad(**tokenizer, DecodeOptions{});
  EXPECT_EQ(bad.push(0xF0 + 3).value(), "");
  EXPECT_EQ(bad.push('A' + 3).value(), "\uFFFDA");
  EXPECT_FALSE(bad.push(999999).ok());
}

TEST(BadInput, InvalidUtf8IsAnErrorNamingTheByte) {
  auto tokenizer = load_tokenizer(spm_gguf());
  ASSERT_TRUE(tokenizer.ok());
  auto ids = (*tokenizer)->encode("ok\xC0\x80", EncodeOptions{});
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(ids.error().message.find("byte 2"), std::string::npos) << ids.error().message;
}

TEST(BadInput, HugeRepeatsStayFast) {
  auto tokenizer = load_tokenizer(spm_gguf());
  ASSERT_TRUE(tokenizer.ok());
  for (const std::string& unit : {std::string("a"), std::string(" "), std::string("\xE4\xB8\xAD"), std::string("\n")}) {
    std::string text;
    while (text.size() < (2u << 20)) text += unit;
    const auto start = std::chrono::steady_clock::now();
    auto ids = (*tokenizer)->encode(text, EncodeOptions{});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(ids.ok());
    EXPECT_LT(seconds, 10.0) << "2 MiB of '" << unit << "'";
    EXPECT_LE(ids->size(), text.size() + 2);
  }
}

void write_file(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

Error load_error(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_" + name;
  write_file(path, bytes);
  auto tokenizer = load_tokenizer(path);
  EXPECT_FALSE(tokenizer.ok()) << name;
  return tokenizer.ok() ? Error{} : tokenizer.error();
}

TEST(BadFiles, ClearErrors) {
  EXPECT_EQ(load_tokenizer("/nonexistent/tokenizer.json").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(load_error("empty.model", "").code, ErrorCode::kInvalidFormat);
  Error e = load_error("bad_base64.model", "IQ== 0\n!!!! 1\n");
  EXPECT_NE(e.message.find("line 2"), std::string::npos) << e.message;
  e = load_error("dup_rank.model", "IQ== 0\nIg== 0\n");
  EXPECT_NE(e.message.find("rank 0 repeats"), std::string::npos) << e.message;
  e = load_error("huge_rank.model", "IQ== 99999999999\n");
  EXPECT_EQ(e.code, ErrorCode::kInvalidFormat);
  e = load_error("truncated.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0");
  EXPECT_EQ(e.code, ErrorCode::kInvalidFormat);
  e = load_error("unigram.json", R"({"model": {"type": "Unigram"}})");
  EXPECT_EQ(e.code, ErrorCode::kUnsupported);
  e = load_error("bad_merge.json", R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE",
      "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})");
  EXPECT_NE(e.message.find("merge 0"), std::string::npos) << e.message;
  e = load_error("bad_regex.json", R"({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"},
      {"type": "ByteLevel", "use_regex": false}]}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  EXPECT_NE(e.message.find("regex"), std::string::npos) << e.message;
  e = load_error("garbage.model", std::string("\x0A\xFF\xFF\xFF\xFF\x0F garbage", 12));
  EXPECT_EQ(e.code, ErrorCode::kInvalidFormat);
}

TEST(BadFiles, CatastrophicRegexIsCutOff) {
  // A file-supplied pattern with exponential backtracking must fail in bounded time, not hang.
  const std::string path = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_redos/tokenizer.json";
  std::filesystem::create_directories(::testing::TempDir() + "/" + std::to_string(::getpid()) + "_redos");
  write_file(path, R"({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "(a+)+$"}, "behavior": "Isolated"},
      {"type": "ByteLevel", "use_regex": false}]},
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}})");
  auto tokenizer = load_tokenizer(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  const auto start = std::chrono::steady_clock::now();
  auto ids = (*tokenizer)->encode(std::string(40, 'a') + "b", EncodeOptions{});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  ASSERT_FALSE(ids.ok());
  EXPECT_NE(ids.error().message.find("limit"), std::string::npos) << ids.error().message;
}

TEST(BadFiles, GgufMetadataInconsistencies) {
  GgufMetadata metadata;
  GgufValue model;
  model.type = GgufType::kString;
  model.scalar = std::string("llama");
  ASSERT_TRUE(metadata.add("tokenizer.ggml.model", model).ok());
  GgufValue tokens;
  tokens.type = GgufType::kArray;
  tokens.element_type = GgufType::kString;
  tokens.array_length = 2;
  tokens.array_text = "ab";
  tokens.array_text_ends = {1, 2};
  ASSERT_TRUE(metadata.add("tokenizer.ggml.tokens", tokens).ok());
  GgufValue scores;
  scores.type = GgufType::kArray;
  scores.element_type = GgufType::kFloat32;
  scores.array_length = 1;
  scores.array_bytes.resize(4);
  ASSERT_TRUE(metadata.add("tokenizer.ggml.scores", scores).ok());
  auto tokenizer = load_gguf_tokenizer(metadata, "test.gguf");
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_NE(tokenizer.error().message.find("scores has 1 entries, expected one per token (2)"), std::string::npos)
      << tokenizer.error().message;

  GgufMetadata no_vocab;
  EXPECT_FALSE(load_gguf_tokenizer(no_vocab, "weights-only.gguf").ok());
}

}  // namespace
}  // namespace llm
