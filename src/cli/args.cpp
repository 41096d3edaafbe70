#include "cli/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "util/str.h"

namespace llm {

Result<Args> Args::parse(const std::vector<std::string>& argv, const ArgSpec& spec) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.size() < 2 || arg.rfind("--", 0) != 0) {
      args.positional_.push_back(arg);
      continue;
    }
    std::string name = arg, inline_value;
    bool has_inline = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
      has_inline = true;
    }
    if (spec.flags.count(name) != 0 && !has_inline) {
      args.flags_.insert(name);
    } else if (spec.options_with_value.count(name) != 0) {
      if (has_inline) {
        args.values_[name] = inline_value;
      } else if (i + 1 < argv.size()) {
        args.values_[name] = argv[++i];
      } else {
        return make_error(ErrorCode::kInvalidArgument, str(name, " needs a value"));
      }
    } else {
      return make_error(ErrorCode::kInvalidArgument, str("unknown option ", name));
    }
  }
  return args;
}

std::optional<std::string> Args::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

Result<int64_t> Args::integer(const std::string& name, int64_t fallback, int64_t min, int64_t max) const {
  std::optional<std::string> text = value(name);
  if (!text) return fallback;
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || errno == ERANGE || parsed < min || parsed > max) {
    return make_error(ErrorCode::kInvalidArgument,
                      str(name, ": expected an integer in [", min, ", ", max, "], got \"", *text, "\""));
  }
  return static_cast<int64_t>(parsed);
}

Result<double> Args::number(const std::string& name, double fallback, double min, double max) const {
  std::optional<std::string> text = value(name);
  if (!text) return fallback;
  char* end = nullptr;
  double parsed = std::strtod(text->c_str(), &end);
  if (text->empty() || *end != '\0' || !std::isfinite(parsed) || parsed < min || parsed > max) {
    return make_error(ErrorCode::kInvalidArgument,
                      str(name, ": expected a number in [", min, ", ", max, "], got \"", *text, "\""));
  }
  return parsed;
}

Result<std::vector<int32_t>> parse_token_list(const std::string& text, const std::string& option) {
  std::vector<int32_t> tokens;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    long long value = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno == ERANGE || value < 0 || value > INT32_MAX) {
      return make_error(ErrorCode::kInvalidArgument,
                        str(option, ": \"", item, "\" is not a token id (expected comma-separated integers >= 0)"));
    }
    tokens.push_back(static_cast<int32_t>(value));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return tokens;
}

}  // namespace llm
