#include "util/json.h"

#include <set>
#include <vector>

#include "util/str.h"

namespace llm {

Result<Json> parse_json(std::string_view text, const std::string& subject, int max_depth) {
  // The callback sees every key before it is stored; a duplicate in the same object, or nesting
  // past max_depth, aborts the parse (returning false from the callback discards values only,
  // so we record the failure and check it afterwards).
  std::vector<std::set<std::string>> keys_per_level;
  std::string failure;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) -> bool {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_per_level.emplace_back();
        if (depth >= max_depth && failure.empty()) failure = str("nesting deeper than ", max_depth);
        break;
      case Json::parse_event_t::array_start:
        if (depth >= max_depth && failure.empty()) failure = str("nesting deeper than ", max_depth);
        keys_per_level.emplace_back();
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!keys_per_level.empty()) keys_per_level.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys_per_level.empty() && !keys_per_level.back().insert(parsed.get<std::string>()).second &&
            failure.empty()) {
          failure = str("duplicate key \"", parsed.get<std::string>(), "\"");
        }
        break;
      case Json::parse_event_t::value:
        break;
    }
    return failure.empty();
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true);
    if (!failure.empty()) return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", failure));
    return value;
  } catch (const Json::exception& e) {
    if (!failure.empty()) return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", failure));
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": not valid JSON: ", e.what()));
  }
}

Result<int64_t> json_int(const Json& object, const std::string& key, const std::string& subject) {
  auto it = object.find(key);
  if (it == object.end()) return make_error(ErrorCode::kInvalidFormat, str(subject, ": missing \"", key, "\""));
  if (!it->is_number_integer()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": \"", key, "\" must be an integer, got ", it->dump()));
  }
  return it->get<int64_t>();
}

Result<double> json_number(const Json& object, const std::string& key, const std::string& subject) {
  auto it = object.find(key);
  if (it == object.end()) return make_error(ErrorCode::kInvalidFormat, str(subject, ": missing \"", key, "\""));
  if (!it->is_number()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": \"", key, "\" must be a number, got ", it->dump()));
  }
  return it->get<double>();
}

Result<std::string> json_string(const Json& object, const std::string& key, const std::string& subject) {
  auto it = object.find(key);
  if (it == object.end()) return make_error(ErrorCode::kInvalidFormat, str(subject, ": missing \"", key, "\""));
  if (!it->is_string()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": \"", key, "\" must be a string, got ", it->dump()));
  }
  return it->get<std::string>();
}

}  // namespace llm
