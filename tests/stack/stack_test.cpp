#include <gtest/gtest.h>

#include "stack/stop_strings.h"
#include "stack/tool_calls.h"

namespace llm::stack {
namespace {

std::string feed(StopStringMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += m.push(p);
  return out + m.finish();
}

TEST(StopStrings, StopSplitAcrossPiecesIsNeverEmitted) {
  StopStringMatcher m({"</end>"});
  EXPECT_EQ(m.push("Hello </"), "Hello ");  // "</" might start the stop string: held
  EXPECT_EQ(m.push("en"), "");
  EXPECT_EQ(m.push("d> tail"), "");
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.finish(), "");
}

TEST(StopStrings, PartialMatchAtTheEndIsFlushed) {
  StopStringMatcher m({"STOP"});
  EXPECT_EQ(feed(m, {"abc S", "T"}), "abc ST");
  EXPECT_FALSE(m.matched());
}

TEST(StopStrings, EarliestOfSeveralWins) {
  StopStringMatcher m({"world", "lo"});
  EXPECT_EQ(m.push("hello world"), "hel");
  EXPECT_TRUE(m.matched());
}

TEST(StopStrings, NoStopsPassesThrough) {
  StopStringMatcher m({});
  EXPECT_EQ(m.push("abc"), "abc");
  EXPECT_EQ(m.finish(), "");
}

TEST(ToolCalls, Llama31Json) {
  auto calls = parse_llama3_tool_calls(R"( {"name": "get_weather", "parameters": {"city": "SF", "days": 2}} )");
  ASSERT_TRUE(calls);
  ASSERT_EQ(calls->size(), 1u);
  EXPECT_EQ((*calls)[0].name, "get_weather");
  EXPECT_EQ((*calls)[0].arguments.dump(), R"({"city":"SF","days":2})");  // key order kept
  EXPECT_EQ((*calls)[0].id, "call_0");
}

TEST(ToolCalls, SeveralJsonCallsAndArgumentsKey) {
  auto calls = parse_llama3_tool_calls(R"({"name": "a", "arguments": {"x": 1}}; {"type": "function", "name": "b", "parameters": {}})");
  ASSERT_TRUE(calls);
  ASSERT_EQ(calls->size(), 2u);
  EXPECT_EQ((*calls)[1].name, "b");
  EXPECT_EQ((*calls)[0].arguments.dump(), R"({"x":1})");
}

TEST(ToolCalls, FunctionTagFormat) {
  auto calls = parse_llama3_tool_calls(R"(<function=spotify_trending_songs>{"n": "5"}</function>)");
  ASSERT_TRUE(calls);
  EXPECT_EQ((*calls)[0].name, "spotify_trending_songs");
  EXPECT_EQ((*calls)[0].arguments.dump(), R"({"n":"5"})");
}

TEST(ToolCalls, PythonicList) {
  auto calls = parse_llama3_tool_calls(R"([get_weather(city="San Francisco, CA", metric=True), get_time(zone='PST')])");
  ASSERT_TRUE(calls);
  ASSERT_EQ(calls->size(), 2u);
  EXPECT_EQ((*calls)[0].arguments.dump(), R"({"city":"San Francisco, CA","metric":true})");
  EXPECT_EQ((*calls)[1].name, "get_time");
  EXPECT_EQ((*calls)[1].arguments.dump(), R"({"zone":"PST"})");
}

TEST(ToolCalls, PlainTextIsNotACall) {
  EXPECT_FALSE(parse_llama3_tool_calls("The weather is nice."));
  EXPECT_FALSE(parse_llama3_tool_calls(R"({"city": "SF"})"));  // no name
  EXPECT_FALSE(parse_llama3_tool_calls(R"({"name": "a", "parameters": )"));  // truncated
  EXPECT_FALSE(parse_llama3_tool_calls("[1, 2, 3]"));
  EXPECT_TRUE(looks_like_tool_call("  {\"na"));
  EXPECT_TRUE(looks_like_tool_call("<func"));
  EXPECT_FALSE(looks_like_tool_call("Hello"));
}

}  // namespace
}  // namespace llm::stack
