#include "formats/ollama/ollama_name.h"

#include <vector>

#include "util/str.h"

namespace llm {
namespace {

// Length caps from Ollama's name.go (host 350, others 80).
constexpr size_t kMaxHostBytes = 350;
constexpr size_t kMaxPartBytes = 80;

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_part_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }

}  // namespace

Status validate_ollama_name_part(std::string_view part, std::string_view what) {
  const size_t cap = what == "host" ? kMaxHostBytes : kMaxPartBytes;
  if (part.empty()) return make_error(ErrorCode::kInvalidArgument, str("ollama model name: empty ", what));
  if (part.size() > cap) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("ollama model name: ", what, " of ", part.size(), " bytes, expected at most ", cap));
  }
  // A leading alphanumeric (or '_' for tags, as Ollama allows) rules out ".", ".." and hidden
  // files; ".." inside is refused too so no part can ever read as a parent directory.
  const bool first_ok = is_alnum(part[0]) || (what == "tag" && part[0] == '_');
  if (!first_ok) {
    return make_error(ErrorCode::kInvalidArgument, str("ollama model name: ", what, " '", part,
                                                       "' must start with a letter or digit"));
  }
  for (char c : part) {
    if (!is_part_char(c)) {
      return make_error(ErrorCode::kInvalidArgument,
                        str("ollama model name: ", what, " '", part, "' contains '", c,
                            "'; allowed characters are A-Z a-z 0-9 . _ -"));
    }
  }
  if (part.find("..") != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, str("ollama model name: ", what, " '", part, "' contains \"..\""));
  }
  return {};
}

std::string OllamaName::display() const {
  std::string text;
  if (host != kOllamaDefaultHost) {
    text = host + "/" + model_namespace + "/";
  } else if (model_namespace != kOllamaDefaultNamespace) {
    text = model_namespace + "/";
  }
  return text + model + ":" + tag;
}

std::string OllamaName::manifest_relative_path() const {
  return host + "/" + model_namespace + "/" + model + "/" + tag;
}

Result<OllamaName> parse_ollama_name(std::string_view reference) {
  std::string_view rest = reference;
  if (rest.starts_with("ollama://")) {
    rest.remove_prefix(9);
  } else if (rest.starts_with("ollama:")) {
    rest.remove_prefix(7);
  }
  if (rest.empty()) return make_error(ErrorCode::kInvalidArgument, str("ollama model name '", reference, "' is empty"));
  OllamaName name{std::string(kOllamaDefaultHost), std::string(kOllamaDefaultNamespace), "",
                  std::string(kOllamaDefaultTag)};
  // The tag follows the last ':' after the last '/'.
  const size_t last_slash = rest.rfind('/');
  const size_t colon = rest.find(':', last_slash == std::string_view::npos ? 0 : last_slash + 1);
  if (colon != std::string_view::npos) {
    name.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  }
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (true) {
    size_t slash = rest.find('/', begin);
    parts.push_back(rest.substr(begin, slash == std::string_view::npos ? std::string_view::npos : slash - begin));
    if (slash == std::string_view::npos) break;
    begin = slash + 1;
  }
  switch (parts.size()) {
    case 1:
      name.model = std::string(parts[0]);
      break;
    case 2:
      name.model_namespace = std::string(parts[0]);
      name.model = std::string(parts[1]);
      break;
    case 3:
      name.host = std::string(parts[0]);
      name.model_namespace = std::string(parts[1]);
      name.model = std::string(parts[2]);
      break;
    default:
      return make_error(ErrorCode::kInvalidArgument,
                        str("ollama model name '", reference, "': expected [host/][namespace/]model[:tag], got ",
                            parts.size(), " '/'-separated parts"));
  }
  for (auto [part, what] : {std::pair<const std::string&, std::string_view>{name.host, "host"},
                            {name.model_namespace, "namespace"},
                            {name.model, "model"},
                            {name.tag, "tag"}}) {
    if (Status s = validate_ollama_name_part(part, what); !s) {
      return make_error(s.error().code, str(s.error().message, " (in '", reference, "')"));
    }
  }
  return name;
}

}  // namespace llm
