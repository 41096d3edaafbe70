#include <gtest/gtest.h>

#include "util/json.h"

namespace llm {

TEST(Json, ParsesObject) {
  Result<Json> parsed = parse_json(R"({"a": 1, "b": [1, 2]})", "test");
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(json_int(*parsed, "a", "test").value(), 1);
}

TEST(Json, RejectsDuplicateKeys) {
  Result<Json> parsed = parse_json(R"({"a": 1, "a": 2})", "config.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message, "config.json: duplicate key \"a\"");
}

TEST(Json, AllowsSameKeyInSiblingObjects) {
  Result<Json> parsed = parse_json(R"({"x": {"a": 1}, "y": {"a": 2}})", "test");
  EXPECT_TRUE(parsed.ok());
}

TEST(Json, RejectsDeepNesting) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  Result<Json> parsed = parse_json(deep, "deep.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message, "deep.json: nesting deeper than 64");
}

TEST(Json, RejectsGarbage) {
  Result<Json> parsed = parse_json("{\"a\": ", "bad.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("bad.json: not valid JSON"), std::string::npos);
}

TEST(Json, TypedAccessNamesTheKey) {
  Json object = parse_json(R"({"n": "x"})", "c").value();
  Result<int64_t> n = json_int(object, "n", "config.json");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().message, "config.json: \"n\" must be an integer, got \"x\"");
  EXPECT_EQ(json_int(object, "m", "config.json").error().message, "config.json: missing \"m\"");
}

}  // namespace llm
