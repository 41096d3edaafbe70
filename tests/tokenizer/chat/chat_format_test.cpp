// Built-in formats beyond what the reference fixtures cover. Expected strings follow the published
// formats: Llama 2 "<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {answer} </s>" (Meta's
// llama/generation.py B_INST/B_SYS), Llama 3 eom/python_tag (llama-stack.md 3.5, llama-models
// chat_format.py).
#include <gtest/gtest.h>

#include "tokenizer/chat/chat_test_util.h"

namespace llm::chat {
namespace {

ChatRenderOptions llama2_options() {
  ChatRenderOptions options;
  options.bos_token = "<s>";
  options.eos_token = "</s>";
  return options;
}

TEST(Llama2Format, SystemAndTurns) {
  std::vector<ChatMessage> messages = {{"system", "Be kind."}, {"user", "Hi"}, {"assistant", "Hello!"}, {"user", " Bye "}};
  Result<std::string> out = render_llama2(messages, llama2_options());
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(*out, "<s>[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]");
}

TEST(Llama2Format, RolesMustAlternate) {
  std::vector<ChatMessage> messages = {{"user", "a"}, {"user", "b"}};
  Result<std::string> out = render_llama2(messages, llama2_options());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("alternate"), std::string::npos);
}

TEST(Llama3Format, EndOfMessageAndPlainPrompt) {
  ChatMessage answer{"assistant", "partial"};
  answer.stop_reason = StopReason::kEndOfMessage;
  std::vector<ChatMessage> messages = {{"system", "You are a helpful assistant"},
                                       {"user", "Answer who are you in the form of jeopardy?"},
                                       answer};
  ChatRenderOptions options;
  options.add_generation_prompt = false;
  Result<std::string> out = render_llama3(messages, options);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(*out,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
            "You are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
            "Answer who are you in the form of jeopardy?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
            "partial<|eom_id|>");
}

TEST(Llama3Format, BuiltinToolCallUsesPythonTag) {
  ChatMessage call{"assistant", ""};
  call.tool_calls.push_back(ToolCall{"c1", "brave_search", OrderedJson{{"query", "weather"}}});
  std::vector<ChatMessage> messages = {{"user", "weather?"}, call};
  ChatRenderOptions options;
  options.add_generation_prompt = false;
  options.extra_context = OrderedJson{{"builtin_tools", {"brave_search", "code_interpreter"}}};
  options.date_string = "21 September 2024";
  Result<std::string> out = render_llama3(messages, options);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(*out,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Environment: ipython\nTools: brave_search\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 21 September 2024\n\n<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nweather?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n<|python_tag|>brave_search.call(query=\"weather\")<|eom_id|>");
}

TEST(ChatRender, BadTemplateIsAnErrorNotACrash) {
  std::vector<ChatMessage> messages = {{"user", "x"}};
  Result<std::string> out = render_chat("{% for m in messages %}{{ m.content", messages, ChatRenderOptions{});
  ASSERT_FALSE(out.ok());
  Result<std::string> loop = render_chat("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                                         messages, ChatRenderOptions{});
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.error().message.find("max_steps"), std::string::npos);
}

}  // namespace
}  // namespace llm::chat
