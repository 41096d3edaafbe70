// JSON via nlohmann/json (Debian: nlohmann-json3-dev). parse_json never throws: hostile text
// becomes an Error naming the subject.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "util/result.h"

namespace llm {

using Json = nlohmann::json;

// Parses `text`; `subject` names it in errors ("config.json"). Rejects duplicate object keys
// and nesting deeper than max_depth.
Result<Json> parse_json(std::string_view text, const std::string& subject, int max_depth = 64);

// Typed field access with errors that name the subject and key.
Result<int64_t> json_int(const Json& object, const std::string& key, const std::string& subject);
Result<double> json_number(const Json& object, const std::string& key, const std::string& subject);
Result<std::string> json_string(const Json& object, const std::string& key, const std::string& subject);

}  // namespace llm
