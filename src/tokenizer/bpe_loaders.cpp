// Readers for the byte-level BPE formats: tiktoken tokenizer.model and Hugging Face tokenizer.json.
#include <charconv>
#include <functional>
#include <optional>
#include <unordered_map>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/loaders.h"
#include "tokenizer/utf8.h"
#include "util/json.h"
#include "util/str.h"

namespace llm {

namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict standard base64 with padding; false on anything else.
bool base64_decode(std::string_view text, std::string& out) {
  out.clear();
  if (text.empty() || text.size() % 4 != 0) return false;
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++padding;
      } else if (padding > 0 || (v[k] = base64_value(c)) < 0) {
        return false;
      }
    }
    const uint32_t triple = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out += static_cast<char>(triple >> 16);
    if (padding < 2) out += static_cast<char>((triple >> 8) & 0xFF);
    if (padding < 1) out += static_cast<char>(triple & 0xFF);
  }
  return true;
}

// The 256 special tokens after the base vocabulary, with the Llama 3.1 names of Meta's
// tokenizer_config.json (128004 <|finetune_right_pad_id|>, 128008 <|eom_id|>, 128010
// <|python_tag|>; Llama 3.0 called those reserved tokens, which its models never produce).
std::string llama3_special_token(int index) {
  static constexpr const char* kNamed[] = {
      "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
      "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
      "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"};
  constexpr int kNamedCount = static_cast<int>(std::size(kNamed));
  if (index < kNamedCount) return kNamed[index];
  return str("<|reserved_special_token_", 3 + index - kNamedCount, "|>");
}
constexpr int kLlama3SpecialTokenCount = 256;

}  // namespace

Result<std::unique_ptr<Tokenizer>> load_tiktoken(std::string_view text, const std::string& subject) {
  BpeSpec spec;
  spec.kind = TokenizerKind::kTiktoken;
  spec.merges_from_ranks = true;
  spec.ignore_merges = true;
  spec.pattern = std::string(kLlama3Pattern);
  size_t line_number = 0;
  size_t count = 0;
  std::string bytes;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidFormat,
                        str(subject, ": line ", line_number, ": expected 'base64 rank', got no space"));
    }
    const std::string_view encoded = line.substr(0, space), rank_text = line.substr(space + 1);
    uint64_t rank = 0;
    const auto [ptr, ec] = std::from_chars(rank_text.data(), rank_text.data() + rank_text.size(), rank);
    if (ec != std::errc() || ptr != rank_text.data() + rank_text.size() || rank >= kTokenizerMaxVocab) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": line ", line_number, ": rank '", utf8_sanitize(rank_text),
                                                       "', expected an integer below ", kTokenizerMaxVocab));
    }
    if (encoded.size() > kTokenizerMaxTokenBytes || !base64_decode(encoded, bytes)) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": line ", line_number, ": token is not base64 (",
                                                       utf8_sanitize(encoded.substr(0, 64)), ")"));
    }
    if (rank >= spec.tokens.size()) {
      spec.tokens.resize(rank + 1);
      spec.present.resize(rank + 1, 0);
    }
    if (spec.present[rank]) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": line ", line_number, ": rank ", rank, " repeats"));
    }
    spec.tokens[rank] = bytes;
    spec.present[rank] = 1;
    ++count;
  }
  if (count == 0) return make_error(ErrorCode::kInvalidFormat, str(subject, ": no tokens"));
  // tokenizer.py numbers the special tokens from len(mergeable_ranks).
  const auto base = static_cast<int32_t>(std::max(count, spec.tokens.size()));
  for (int i = 0; i < kLlama3SpecialTokenCount; ++i) spec.added_tokens.push_back({llama3_special_token(i), base + i, true});
  spec.special_ids.bos = base + 0;
  spec.special_ids.eos = base + 1;
  spec.special_ids.eom = base + 8;
  spec.special_ids.eot = base + 9;
  spec.special_ids.add_bos = true;
  auto tok = BpeTokenizer::create(std::move(spec));
  if (!tok) return tok.error();
  return std::unique_ptr<Tokenizer>(std::move(*tok));
}

namespace {

// Typed optional fields that never throw: a missing field or one of another type gives the
// fallback (nlohmann's value() throws on a type mismatch, and these files are hostile).
bool json_bool_or(const Json& object, const char* key, bool fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() ? it->get<bool>() : fallback;
}
std::string json_string_or(const Json& object, const char* key, const std::string& fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}
Json json_field_or_null(const Json& object, const char* key) {
  if (!object.is_object()) return Json();
  const auto it = object.find(key);
  return it != object.end() ? *it : Json();
}

// tokenizer_config.json token fields are a string or an AddedToken object {"content": ...}.
std::optional<std::string> config_token(const Json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    const auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  return std::nullopt;
}

// The Split regex and whether a ByteLevel step is present, from pre_tokenizer (possibly a
// Sequence). Unsupported shapes are errors rather than silently different ids.
Status read_pre_tokenizer(const Json& node, const std::string& subject, std::string& pattern, bool& byte_level) {
  if (node.is_null()) return {};
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": pre_tokenizer is not an object with a type"));
  }
  const std::string type = node["type"].get<std::string>();
  if (type == "Sequence") {
    const auto it = node.find("pretokenizers");
    if (it == node.end() || !it->is_array()) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": pre_tokenizer Sequence without pretokenizers"));
    }
    for (const Json& child : *it) {
      if (Status s = read_pre_tokenizer(child, subject, pattern, byte_level); !s) return s;
    }
    return {};
  }
  if (type == "ByteLevel") {
    byte_level = true;
    if (json_bool_or(node, "add_prefix_space", false)) {
      return make_error(ErrorCode::kUnsupported, str(subject, ": ByteLevel add_prefix_space=true"));
    }
    if (json_bool_or(node, "use_regex", true)) {
      if (!pattern.empty()) {
        return make_error(ErrorCode::kUnsupported, str(subject, ": both a Split regex and ByteLevel use_regex"));
      }
      pattern = std::string(kGpt2Pattern);
    }
    return {};
  }
  if (type == "Split") {
    if (!pattern.empty()) return make_error(ErrorCode::kUnsupported, str(subject, ": more than one Split regex"));
    if (json_bool_or(node, "invert", false) || json_string_or(node, "behavior", "Isolated") != "Isolated") {
      return make_error(ErrorCode::kUnsupported, str(subject, ": Split must have behavior Isolated and invert false"));
    }
    const auto p = node.find("pattern");
    if (p != node.end() && p->is_object() && p->contains("Regex") && (*p)["Regex"].is_string()) {
      pattern = (*p)["Regex"].get<std::string>();
      return {};
    }
    if (p != node.end() && p->is_object() && p->contains("String") && (*p)["String"].is_string()) {
      auto literal = PreTokenizerRegex::compile_literal((*p)["String"].get<std::string>(), subject);
      if (!literal) return literal.error();
      pattern = literal->pattern();
      return {};
    }
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": Split pattern is neither {Regex} nor {String}"));
  }
  return make_error(ErrorCode::kUnsupported, str(subject, ": pre_tokenizer type '", type, "'"));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> load_hf_tokenizer(std::string_view tokenizer_json, std::string_view config_json,
                                                     const std::string& subject) {
  auto parsed = parse_json(tokenizer_json, subject);
  if (!parsed) return parsed.error();
  const Json& root = *parsed;
  if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": expected an object with a 'model' object"));
  }
  const Json& model = root["model"];
  const std::string model_type = json_string_or(model, "type", "");
  if (model_type != "BPE") {
    return make_error(ErrorCode::kUnsupported, str(subject, ": model.type '", model_type, "', expected BPE"));
  }
  if (root.contains("normalizer") && !root["normalizer"].is_null()) {
    return make_error(ErrorCode::kUnsupported, str(subject, ": a normalizer (byte-level BPE expects none)"));
  }
  BpeSpec spec;
  spec.kind = TokenizerKind::kHuggingFaceBpe;
  bool byte_level = false;
  if (Status s = read_pre_tokenizer(json_field_or_null(root, "pre_tokenizer"), subject, spec.pattern, byte_level); !s) {
    return s.error();
  }
  if (!byte_level) {
    return make_error(ErrorCode::kUnsupported, str(subject, ": no ByteLevel pre-tokenizer (a SentencePiece-style "
                                                            "tokenizer.json; load tokenizer.model instead)"));
  }
  if (spec.pattern.empty()) return make_error(ErrorCode::kUnsupported, str(subject, ": no pre-tokenizer regex"));
  spec.ignore_merges = json_bool_or(model, "ignore_merges", false);

  const auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": model.vocab is not an object"));
  }
  if (vocab->size() > kTokenizerMaxVocab) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": ", vocab->size(), " vocab entries, expected at most ", kTokenizerMaxVocab));
  }
  const ByteUnicodeMap byte_map;
  std::unordered_map<std::string, int32_t> ids;  // ByteLevel text -> id, for the merges
  ids.reserve(vocab->size());
  std::string bytes;
  for (const auto& [text, id_json] : vocab->items()) {
    if (!id_json.is_number_integer() || id_json.get<int64_t>() < 0 ||
        id_json.get<int64_t>() >= static_cast<int64_t>(kTokenizerMaxVocab)) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": vocab entry '", text, "' has id ", id_json.dump(),
                                                       ", expected an integer in 0..", kTokenizerMaxVocab - 1));
    }
    const auto id = static_cast<size_t>(id_json.get<int64_t>());
    if (id >= spec.tokens.size()) {
      spec.tokens.resize(id + 1);
      spec.present.resize(id + 1, 0);
    }
    if (spec.present[id]) return make_error(ErrorCode::kInvalidFormat, str(subject, ": vocab id ", id, " repeats"));
    // Characters outside the 256 byte characters cannot come from ByteLevel; keep their UTF-8.
    spec.tokens[id] = byte_map.decode(text, bytes) ? bytes : text;
    spec.present[id] = 1;
    ids.emplace(text, static_cast<int32_t>(id));
  }

  const auto merges = model.find("merges");
  if (merges != model.end() && !merges->is_array()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": model.merges is not an array"));
  }
  if (merges != model.end()) {
    if (merges->size() > kTokenizerMaxMerges) {
      return make_error(ErrorCode::kInvalidFormat,
                        str(subject, ": ", merges->size(), " merges, expected at most ", kTokenizerMaxMerges));
    }
    spec.merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const Json& merge = (*merges)[i];
      std::string left, right;
      if (merge.is_string()) {  // "Ġ t" (tokenizers < 0.20)
        const std::string& text = merge.get_ref<const std::string&>();
        const size_t space = text.find(' ', 1);
        if (space == std::string::npos) {
          return make_error(ErrorCode::kInvalidFormat, str(subject, ": merge ", i, " '", text, "' has no space"));
        }
        left = text.substr(0, space);
        right = text.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        left = merge[0].get<std::string>();  // ["Ġ", "t"] (tokenizers >= 0.20)
        right = merge[1].get<std::string>();
      } else {
        return make_error(ErrorCode::kInvalidFormat,
                          str(subject, ": merge ", i, " is neither \"a b\" nor [\"a\", \"b\"]"));
      }
      const auto l = ids.find(left), r = ids.find(right);
      if (l == ids.end() || r == ids.end()) {
        return make_error(ErrorCode::kInvalidFormat,
                          str(subject, ": merge ", i, " ('", left, "', '", right, "') names a token not in model.vocab"));
      }
      spec.merges.emplace_back(l->second, r->second);
    }
  }

  const auto added = root.find("added_tokens");
  if (added != root.end() && !added->is_array()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": added_tokens is not an array"));
  }
  if (added != root.end()) {
    if (added->size() > kTokenizerMaxVocab) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", added->size(), " added tokens"));
    }
    for (const Json& token : *added) {
      if (!token.is_object() || !token.contains("id") || !token["id"].is_number_integer() ||
          !token.contains("content") || !token["content"].is_string()) {
        return make_error(ErrorCode::kInvalidFormat, str(subject, ": added token without integer id and content"));
      }
      const int64_t id = token["id"].get<int64_t>();
      if (id < 0 || id >= static_cast<int64_t>(kTokenizerMaxVocab)) {
        return make_error(ErrorCode::kInvalidFormat, str(subject, ": added token id ", id, " out of range"));
      }
      spec.added_tokens.push_back(
          {token["content"].get<std::string>(), static_cast<int32_t>(id), json_bool_or(token, "special", false)});
    }
  }

  // BOS/EOS: tokenizer_config.json names them; the post-processor template says whether BOS is
  // added (Llama 3: TemplateProcessing "single" = [<|begin_of_text|>, $A]).
  const auto find_id = [&](const std::string& text) -> int32_t {
    for (const AddedToken& t : spec.added_tokens) {
      if (t.text == text) return t.id;
    }
    const auto it = ids.find(byte_map.encode(text));
    return it == ids.end() ? -1 : it->second;
  };
  const std::function<void(const Json&)> read_post_processor = [&](const Json& node) {
    if (!node.is_object()) return;
    const std::string type = json_string_or(node, "type", "");
    if (type == "Sequence" && node.contains("processors") && node["processors"].is_array()) {
      for (const Json& child : node["processors"]) read_post_processor(child);
    } else if (type == "TemplateProcessing" && node.contains("single") && node["single"].is_array()) {
      const Json& single = node["single"];
      for (size_t i = 0; i < single.size(); ++i) {
        if (!single[i].is_object() || !single[i].contains("SpecialToken")) continue;
        const Json& special = single[i]["SpecialToken"];
        if (!special.is_object() || !special.contains("id") || !special["id"].is_string()) continue;
        const int32_t id = find_id(special["id"].get<std::string>());
        if (i == 0) {
          spec.special_ids.bos = id;
          spec.special_ids.add_bos = id >= 0;
        } else if (i + 1 == single.size()) {
          spec.special_ids.eos = id;
          spec.special_ids.add_eos = id >= 0;
        }
      }
    }
  };
  read_post_processor(json_field_or_null(root, "post_processor"));
  if (!config_json.empty()) {
    auto config = parse_json(config_json, "tokenizer_config.json");
    if (!config) return config.error();
    if (config->is_object()) {
      if (auto bos = config_token(*config, "bos_token")) spec.special_ids.bos = find_id(*bos);
      if (auto eos = config_token(*config, "eos_token")) spec.special_ids.eos = find_id(*eos);
      if (auto unk = config_token(*config, "unk_token")) spec.special_ids.unk = find_id(*unk);
      if (auto pad = config_token(*config, "pad_token")) spec.special_ids.pad = find_id(*pad);
      if (const auto it = config->find("add_bos_token"); it != config->end() && it->is_boolean()) {
        spec.special_ids.add_bos = it->get<bool>();
      }
      if (const auto it = config->find("add_eos_token"); it != config->end() && it->is_boolean()) {
        spec.special_ids.add_eos = it->get<bool>();
      }
      if (const auto it = config->find("chat_template"); it != config->end()) {
        if (it->is_string()) {
          spec.chat_template = it->get<std::string>();
        } else if (it->is_array()) {  // [{"name": "default", "template": ...}, ...]
          for (const Json& entry : *it) {
            if (entry.is_object() && json_string_or(entry, "name", "") == "default" && entry.contains("template") &&
                entry["template"].is_string()) {
              spec.chat_template = entry["template"].get<std::string>();
            }
          }
        }
      }
    }
  }
  spec.special_ids.eot = find_id("<|eot_id|>");
  spec.special_ids.eom = find_id("<|eom_id|>");
  auto tok = BpeTokenizer::create(std::move(spec));
  if (!tok) return tok.error();
  return std::unique_ptr<Tokenizer>(std::move(*tok));
}

}  // namespace llm
