// Llama 3 tool calls in generated text, into ToolCall values. The forms Llama 3.x models emit:
//   {"name": "get_weather", "parameters": {"city": "SF"}}            (3.1/3.3 JSON; "arguments" too)
//   several of those separated by ';' or newlines
//   <function=get_weather>{"city": "SF"}</function>                  (3.1 custom tool format)
//   [get_weather(city="SF"), get_time(zone="PST")]                    (3.2 pythonic list)
//   <|python_tag|> before any of the above (builtin tools; the tag is a token, not text here)
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "tokenizer/chat/chat.h"

namespace llm::stack {

// Does this (whitespace-trimmed) start of the output look like a tool call? Decides, from the first
// non-blank character, whether a stream is held back for parsing.
bool looks_like_tool_call(std::string_view text_start);

// The calls in `text`, or nullopt when it is not (entirely) tool calls. Ids are "call_<k>" with
// k counting from 0 in output order; callers may replace them.
std::optional<std::vector<chat::ToolCall>> parse_llama3_tool_calls(std::string_view text);

}  // namespace llm::stack
