#include <gtest/gtest.h>

#include "cli/args.h"

namespace llm {
namespace {

const ArgSpec kSpec{.options_with_value = {"--max-tokens", "--temperature"}, .flags = {"--json"}};

TEST(Args, ParsesPositionalOptionsAndFlags) {
  Result<Args> args = Args::parse({"model", "--max-tokens", "5", "--json", "--temperature=0.5"}, kSpec);
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->positional(), std::vector<std::string>{"model"});
  EXPECT_TRUE(args->flag("--json"));
  EXPECT_EQ(args->integer("--max-tokens", 0, 0, 10).value(), 5);
  EXPECT_EQ(args->number("--temperature", 0, 0, 2).value(), 0.5);
}

TEST(Args, Errors) {
  EXPECT_EQ(Args::parse({"--bogus"}, kSpec).error().message, "unknown option --bogus");
  EXPECT_EQ(Args::parse({"--max-tokens"}, kSpec).error().message, "--max-tokens needs a value");
  Result<Args> args = Args::parse({"--max-tokens", "-3"}, kSpec);
  EXPECT_EQ(args->integer("--max-tokens", 0, 0, 10).error().message,
            "--max-tokens: expected an integer in [0, 10], got \"-3\"");
}

TEST(Args, TokenLists) {
  EXPECT_EQ(parse_token_list("1,2,3", "--prompt-tokens").value(), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(parse_token_list("1,,3", "--prompt-tokens").error().message,
            "--prompt-tokens: \"\" is not a token id (expected comma-separated integers >= 0)");
  EXPECT_EQ(parse_token_list("1,x", "--prompt-tokens").error().message,
            "--prompt-tokens: \"x\" is not a token id (expected comma-separated integers >= 0)");
}

}  // namespace
}  // namespace llm
