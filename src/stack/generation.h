// What every API front end maps its request to (GenerateRequest), and what comes back: text
// deltas and a final result, delivered to a GenerationSink. Providers call sinks on their own
// thread (the scheduler's, for the inline engine): sinks must be quick and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "tokenizer/chat/chat.h"

namespace llm::stack {

enum class ToolChoice { kAuto, kNone, kRequired, kNamed };

struct GenerateRequest {
  std::string model;
  // The prompt: exactly one of messages (chat), prompt_text or prompt_tokens.
  std::optional<std::vector<chat::ChatMessage>> messages;
  std::optional<std::string> prompt_text;
  std::optional<std::vector<int32_t>> prompt_tokens;
  bool raw = false;  // prompt_text is already formatted: special tokens in it count, no BOS is added

  chat::OrderedJson tools;  // null or [{"type": "function", "function": {name, description, parameters}}]
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;  // kNamed

  std::optional<int32_t> max_tokens;  // none: until the context is full
  SamplingParams sampling;
  std::vector<std::string> stop;      // stop strings; the text stops before them
  bool ignore_eos = false;
  bool logprobs = false;
  int32_t top_logprobs = 0;
};

struct TokenAlternative {
  int32_t token = 0;
  std::string bytes;  // what the token decodes to (possibly part of a UTF-8 sequence)
  float logprob = 0;
};

// One sampled token's log-probability (when logprobs were asked for).
struct TokenLogprobInfo {
  int32_t token = 0;
  std::string bytes;
  float logprob = 0;
  std::vector<TokenAlternative> top;  // most likely first
};

struct GenerationDelta {
  std::string text;  // complete UTF-8; may be empty (a held-back partial character or stop string)
  std::vector<int32_t> tokens;  // the ids this delta covers
  std::vector<TokenLogprobInfo> logprobs;
};

struct GenerationUsage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_prompt_tokens = 0;
  double queue_seconds = 0;
  double first_token_seconds = 0;  // submit -> first token (prompt evaluation included)
  double total_seconds = 0;
};

enum class GenerationFinish { kStop, kLength, kToolCalls, kCancelled, kError };
const char* generation_finish_name(GenerationFinish finish);  // "stop" "length" "tool_calls" ...

struct GenerationResult {
  GenerationFinish finish = GenerationFinish::kStop;
  bool end_of_message = false;  // stopped at <|eom_id|> (Llama 3.1: waiting for a tool result)
  std::vector<chat::ToolCall> tool_calls;
  std::string error;            // kError: why
  GenerationUsage usage;
  std::vector<int32_t> prompt_ids;  // the token ids the prompt became
  std::vector<int32_t> output_ids;  // every generated id (a final stop token included)
};

class GenerationSink {
 public:
  virtual ~GenerationSink() = default;
  virtual void on_delta(const GenerationDelta& delta) = 0;
  virtual void on_done(const GenerationResult& result) = 0;  // exactly once, last
};

struct ModelInfo {
  std::string id;              // what clients name ("gqa-llama3")
  std::string provider_id;     // "inline"
  std::string provider_resource_id;  // the provider's own name (a path for the inline engine)
  int64_t created = 0;         // unix seconds
  int32_t context_length = 0;
  int32_t vocab_size = 0;
  int64_t parameter_count = 0;
  std::string family = "llama";
  std::string format;          // "safetensors", "gguf", ...
  std::string quantization;    // "F32", "BF16", "Q4_K_M", ...
  int64_t size_bytes = 0;      // on disk
  std::string chat_template;   // empty: the built-in Llama 3 format
};

}  // namespace llm::stack
