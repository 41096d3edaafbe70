// A small command-line parser: `--name value` and `--flag`, positional arguments kept in order.
// Unknown options and missing values are errors naming the option.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "util/result.h"

namespace llm {

struct ArgSpec {
  std::set<std::string> options_with_value;  // "--max-tokens", ...
  std::set<std::string> flags;               // "--json", ...
};

class Args {
 public:
  static Result<Args> parse(const std::vector<std::string>& argv, const ArgSpec& spec);

  const std::vector<std::string>& positional() const { return positional_; }
  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  std::optional<std::string> value(const std::string& name) const;

  // Typed values with range checks; the error names the option.
  Result<int64_t> integer(const std::string& name, int64_t fallback, int64_t min, int64_t max) const;
  Result<double> number(const std::string& name, double fallback, double min, double max) const;

 private:
  std::vector<std::string> positional_;
  std::set<std::string> flags_;
  std::map<std::string, std::string> values_;
};

// "1,2,3" -> {1, 2, 3}; an error names the bad item.
Result<std::vector<int32_t>> parse_token_list(const std::string& text, const std::string& option);

}  // namespace llm
