// llama.cpp's published tokenizer vectors for the Llama 2 vocabulary (generated with the
// reference Hugging Face tokenizer), through the GGUF path (our SentencePiece BPE merge) and
// through libsentencepiece (a ModelProto built from the same vocabulary).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "formats/gguf/gguf.h"
#include "tokenizer/tokenizer/test_util.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/loaders.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/utf8.h"

namespace llm {
namespace {

std::string spm_dir() { return test::testdata_dir() + "/llama-spm"; }
std::string spm_gguf() { return spm_dir() + "/ggml-vocab-llama-spm.gguf"; }

std::vector<test::VocabVector> spm_vectors() {
  return test::read_vocab_vectors(spm_gguf() + ".inp", spm_gguf() + ".out");
}

void expect_vectors(const Tokenizer& tokenizer, const std::vector<test::VocabVector>& vectors) {
  ASSERT_GT(vectors.size(), 20u);
  for (size_t i = 0; i < vectors.size(); ++i) {
    auto ids = tokenizer.encode(vectors[i].text, EncodeOptions{.add_bos = false, .parse_special = false});
    ASSERT_TRUE(ids.ok()) << ids.error().to_string();
    EXPECT_EQ(*ids, vectors[i].ids) << "vector " << i << ": '" << vectors[i].text << "'";
  }
}

TEST(LlamaSpmVectors, GgufVocabularyPassesAll) {
  auto tokenizer = load_tokenizer(spm_gguf());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  EXPECT_EQ((*tokenizer)->kind(), TokenizerKind::kGgufSpm);
  EXPECT_EQ((*tokenizer)->vocab_size(), 32000);
  EXPECT_EQ((*tokenizer)->special_ids().bos, 1);
  EXPECT_EQ((*tokenizer)->special_ids().eos, 2);
  expect_vectors(**tokenizer, spm_vectors());
}

TEST(LlamaSpmVectors, DecodeRoundTrips) {
  auto tokenizer = load_tokenizer(spm_gguf());
  ASSERT_TRUE(tokenizer.ok());
  for (const auto& v : spm_vectors()) {
    auto text = (*tokenizer)->decode(v.ids, DecodeOptions{});
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, v.text);
    // Streaming gives the same text, and every chunk is whole UTF-8.
    StreamingDetokenizer stream(**tokenizer, DecodeOptions{});
    std::string streamed;
    for (int32_t id : v.ids) {
      auto chunk = stream.push(id);
      ASSERT_TRUE(chunk.ok());
      EXPECT_EQ(utf8_first_invalid(*chunk), chunk->size());
      streamed += *chunk;
    }
    streamed += stream.finish();
    EXPECT_EQ(streamed, v.text);
  }
}

TEST(LlamaSpm, BosPolicyAndSpecialParsing) {
  auto tokenizer = load_tokenizer(spm_gguf());
  ASSERT_TRUE(tokenizer.ok());
  // Hello world = 15043 3186 in the vectors; Llama 2 adds <s> = 1.
  auto with_bos = (*tokenizer)->encode("Hello world", EncodeOptions{});
  ASSERT_TRUE(with_bos.ok());
  EXPECT_EQ(*with_bos, (std::vector<int32_t>{1, 15043, 3186}));
  auto special = (*tokenizer)->encode("</s>Hello world", EncodeOptions{.add_bos = false, .parse_special = true});
  ASSERT_TRUE(special.ok());
  EXPECT_EQ(*special, (std::vector<int32_t>{2, 15043, 3186}));
  auto plain = (*tokenizer)->encode("</s>", EncodeOptions{.add_bos = false, .parse_special = false});
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(*plain, (std::vector<int32_t>{2}));
}

// --- libsentencepiece path: a ModelProto written by hand from the GGUF vocabulary ----------------

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_varint(out, (uint64_t(field) << 3) | 2);
  put_varint(out, bytes.size());
  out += bytes;
}
void put_int(std::string& out, int field, uint64_t v) {
  put_varint(out, uint64_t(field) << 3);
  put_varint(out, v);
}
void put_float(std::string& out, int field, float v) {
  put_varint(out, (uint64_t(field) << 3) | 5);
  char bytes[4];
  std::memcpy(bytes, &v, 4);
  out.append(bytes, 4);
}

// sentencepiece_model.proto: ModelProto{1: pieces{1 piece, 2 score, 3 type}, 2: trainer_spec
// {3 model_type (BPE = 2), 35 byte_fallback}, 3: normalizer_spec{1 name, 3 add_dummy_prefix,
// 4 remove_extra_whitespaces, 5 escape_whitespaces}} -- Llama 2's settings.
std::string llama2_model_proto(const GgufMetadata& metadata) {
  const auto tokens = metadata.get_array_strings("tokenizer.ggml.tokens").value();
  const auto scores = metadata.get_array_floats("tokenizer.ggml.scores").value();
  const auto types = metadata.get_array_ints("tokenizer.ggml.token_type").value();
  std::string proto;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string piece;
    put_bytes(piece, 1, tokens[i]);
    put_float(piece, 2, scores[i]);
    put_int(piece, 3, static_cast<uint64_t>(types[i]));
    put_bytes(proto, 1, piece);
  }
  std::string trainer;
  put_int(trainer, 3, 2);
  put_int(trainer, 35, 1);
  put_bytes(proto, 2, trainer);
  std::string normalizer;
  put_bytes(normalizer, 1, "identity");
  put_int(normalizer, 3, 1);
  put_int(normalizer, 4, 0);
  put_int(normalizer, 5, 1);
  put_bytes(proto, 3, normalizer);
  return proto;
}

TEST(LlamaSpmVectors, LibSentencePiecePassesAll) {
  auto gguf = read_gguf(spm_gguf());
  ASSERT_TRUE(gguf.ok()) << gguf.error().to_string();
  auto tokenizer = SpmTokenizer::from_protobuf(llama2_model_proto(gguf->metadata), "test ModelProto");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  EXPECT_EQ((*tokenizer)->kind(), TokenizerKind::kSentencePiece);
  expect_vectors(**tokenizer, spm_vectors());
}

TEST(LlamaSpmVectors, LoadTokenizerDetectsProtobuf) {
  auto gguf = read_gguf(spm_gguf());
  ASSERT_TRUE(gguf.ok());
  const std::string dir = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_spm_model_dir";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer.model", std::ios::binary) << llama2_model_proto(gguf->metadata);
  auto tokenizer = load_tokenizer(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().to_string();
  EXPECT_EQ((*tokenizer)->kind(), TokenizerKind::kSentencePiece);
  auto ids = (*tokenizer)->encode("Hello world", EncodeOptions{});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int32_t>{1, 15043, 3186}));
}

}  // namespace
}  // namespace llm
