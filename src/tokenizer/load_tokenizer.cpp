// load_tokenizer: picks the format from the file's own bytes (GGUF magic, JSON, protobuf or
// tiktoken text), never from its name alone.
#include <filesystem>
#include <system_error>

#include "formats/gguf/gguf.h"
#include "tokenizer/loaders.h"
#include "tokenizer/spm_tokenizer.h"
#include "util/mapped_file.h"
#include "util/str.h"

namespace llm {

namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMaxTokenizerFileBytes = uint64_t{256} << 20;

Result<std::unique_ptr<Tokenizer>> load_file(const fs::path& path) {
  const std::string subject = path.string();
  auto file = MappedFile::open(subject);
  if (!file) return file.error();
  const auto bytes = (*file)->bytes();
  const std::string_view head(reinterpret_cast<const char*>(bytes.data()), std::min<size_t>(bytes.size(), 4));
  if (head == "GGUF") {
    auto gguf = read_gguf(subject);
    if (!gguf) return gguf.error();
    return load_gguf_tokenizer(gguf->metadata, subject);
  }
  if (bytes.size() > kMaxTokenizerFileBytes) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", bytes.size(), " bytes, expected a tokenizer file of at most ",
                                                     kMaxTokenizerFileBytes));
  }
  if (bytes.empty()) return make_error(ErrorCode::kInvalidFormat, str(subject, ": empty file"));
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') {
    std::string config;
    const fs::path config_path = path.parent_path() / "tokenizer_config.json";
    std::error_code ec;
    if (fs::is_regular_file(config_path, ec)) {
      auto config_text = read_text_file(config_path.string(), kMaxTokenizerFileBytes);
      if (!config_text) return config_text.error();
      config = std::move(*config_text);
    }
    return load_hf_tokenizer(text, config, subject);
  }
  // A SentencePiece ModelProto starts with field 1 (pieces), wire type 2: byte 0x0A. A tiktoken
  // file starts with a base64 character, which 0x0A never is.
  if (text[0] == '\x0A') {
    auto tok = SpmTokenizer::from_protobuf(text, subject);
    if (!tok) return tok.error();
    return std::unique_ptr<Tokenizer>(std::move(*tok));
  }
  return load_tiktoken(text, subject);
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> load_tokenizer(const std::string& path_or_model_dir) {
  const fs::path path(path_or_model_dir);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return make_error(ErrorCode::kNotFound, str(path_or_model_dir, ": no such file or directory"));
  }
  if (!fs::is_directory(path, ec)) return load_file(path);
  for (const char* name : {"tokenizer.json", "tokenizer.model", "original/tokenizer.model"}) {
    if (fs::is_regular_file(path / name, ec)) return load_file(path / name);
  }
  // A directory holding one GGUF file (a downloaded model or an Ollama blob copied out).
  fs::path gguf;
  int gguf_count = 0;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".gguf") {
      gguf = entry.path();
      ++gguf_count;
    }
  }
  if (gguf_count == 1) return load_file(gguf);
  return make_error(ErrorCode::kNotFound,
                    str(path_or_model_dir, ": no tokenizer.json, tokenizer.model, original/tokenizer.model or single "
                                           "*.gguf in this directory (found ", gguf_count, " .gguf files)"));
}

}  // namespace llm
