#include "cli/tokenize_command.h"

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/args.h"
#include "tokenizer/tokenizer.h"
#include "util/json.h"
#include "util/str.h"

namespace llm {

namespace {

const char* kTokenizeUsage =
    "usage: llama tokenize TOKENIZER_OR_MODEL [--text TEXT] [--no-bos] [--parse-special] [--json]\n"
    "  Prints the token ids of TEXT (or of stdin), taken byte for byte: nothing is trimmed or added.\n"
    "  TOKENIZER_OR_MODEL: tokenizer.model, tokenizer.json, a GGUF file, or a model directory.\n"
    "  --no-bos          do not add the BOS token the model's policy adds\n"
    "  --parse-special   turn special-token text such as <|eot_id|> into its token\n"
    "  --json            print {\"tokens\":[...]}\n";
const char* kDetokenizeUsage =
    "usage: llama detokenize TOKENIZER_OR_MODEL [--ids 1,2,3] [--skip-special] [--json]\n"
    "  Prints the text of the token ids given by --ids or on stdin (integers separated by spaces,\n"
    "  commas or newlines, or {\"tokens\":[...]}), with no newline added.\n"
    "  --skip-special    drop BOS, EOS and other special tokens\n"
    "  --json            print {\"text\":\"...\"}\n";

// Reads all of stdin in binary, refusing more than `max_bytes`.
Result<std::string> read_stdin(size_t max_bytes) {
  std::string data;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), stdin)) > 0) {
    if (data.size() + n > max_bytes) {
      return make_error(ErrorCode::kInvalidArgument, str("stdin: more than ", max_bytes, " bytes"));
    }
    data.append(buffer, n);
  }
  if (std::ferror(stdin)) return make_error(ErrorCode::kIo, "stdin: read error");
  return data;
}

// "1 2,3\n4" or {"tokens":[1,2]} -> ids.
Result<std::vector<int32_t>> parse_ids(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    auto json = parse_json(text, "stdin");
    if (!json) return json.error();
    if (!json->is_object() || !json->contains("tokens") || !(*json)["tokens"].is_array()) {
      return make_error(ErrorCode::kInvalidArgument, "stdin: expected {\"tokens\":[...]}");
    }
    std::vector<int32_t> ids;
    for (const Json& id : (*json)["tokens"]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
        return make_error(ErrorCode::kInvalidArgument, str("stdin: token ", id.dump(), " is not an id"));
      }
      ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    return ids;
  }
  std::string list;
  for (const char c : text) list += (c == ' ' || c == '\t' || c == '\r' || c == '\n') ? ',' : c;
  // Collapse separators so that "1  2\n" is fine.
  std::string compact;
  for (const char c : list) {
    if (c == ',' && (compact.empty() || compact.back() == ',')) continue;
    compact += c;
  }
  if (!compact.empty() && compact.back() == ',') compact.pop_back();
  if (compact.empty()) return std::vector<int32_t>{};
  return parse_token_list(compact, "stdin");
}

}  // namespace

int tokenize_command(const std::vector<std::string>& argv, bool detokenize) {
  const char* name = detokenize ? "llama detokenize" : "llama tokenize";
  const char* usage = detokenize ? kDetokenizeUsage : kTokenizeUsage;
  for (const std::string& arg : argv) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
  }
  const ArgSpec spec = detokenize ? ArgSpec{{"--ids"}, {"--skip-special", "--json"}}
                                  : ArgSpec{{"--text"}, {"--no-bos", "--parse-special", "--json"}};
  auto args = Args::parse(argv, spec);
  if (!args) {
    std::fprintf(stderr, "%s: %s\n%s", name, args.error().message.c_str(), usage);
    return 2;
  }
  if (args->positional().size() != 1) {
    std::fprintf(stderr, "%s: one TOKENIZER_OR_MODEL expected, got %zu arguments\n%s", name,
                 args->positional().size(), usage);
    return 2;
  }
  auto tokenizer = load_tokenizer(args->positional()[0]);
  if (!tokenizer) {
    std::fprintf(stderr, "%s: %s\n", name, tokenizer.error().to_string().c_str());
    return 1;
  }

  if (!detokenize) {
    std::string text;
    if (auto value = args->value("--text")) {
      text = *value;
    } else {
      auto input = read_stdin(kTokenizerMaxTextBytes);
      if (!input) {
        std::fprintf(stderr, "%s: %s\n", name, input.error().to_string().c_str());
        return 1;
      }
      text = std::move(*input);
    }
    auto ids = (*tokenizer)->encode(text, EncodeOptions{.add_bos = !args->flag("--no-bos"),
                                                        .parse_special = args->flag("--parse-special")});
    if (!ids) {
      std::fprintf(stderr, "%s: %s\n", name, ids.error().to_string().c_str());
      return 1;
    }
    std::string out = args->flag("--json") ? "{\"tokens\":[" : "";
    for (size_t i = 0; i < ids->size(); ++i) {
      if (i > 0) out += args->flag("--json") ? "," : " ";
      out += std::to_string((*ids)[i]);
    }
    out += args->flag("--json") ? "]}\n" : "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }

  Result<std::vector<int32_t>> ids = std::vector<int32_t>{};
  if (auto value = args->value("--ids")) {
    ids = parse_ids(*value);
  } else {
    auto input = read_stdin(kTokenizerMaxTextBytes);
    if (!input) {
      std::fprintf(stderr, "%s: %s\n", name, input.error().to_string().c_str());
      return 1;
    }
    ids = parse_ids(*input);
  }
  if (!ids) {
    std::fprintf(stderr, "%s: %s\n", name, ids.error().to_string().c_str());
    return 2;
  }
  auto text = (*tokenizer)->decode(*ids, DecodeOptions{.skip_special = args->flag("--skip-special")});
  if (!text) {
    std::fprintf(stderr, "%s: %s\n", name, text.error().to_string().c_str());
    return 1;
  }
  if (args->flag("--json")) {
    const std::string out = Json{{"text", *text}}.dump() + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    std::fwrite(text->data(), 1, text->size(), stdout);
  }
  return 0;
}

}  // namespace llm
