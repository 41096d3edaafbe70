// A generation request as the engine sees it: token ids in, token events out.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/sampler.h"

namespace llm {

struct RequestOptions {
  int32_t max_tokens = 256;
  SamplingParams sampling;
  std::vector<int32_t> stop_tokens;  // end generation (kept in the output), in addition to EOS
  bool ignore_eos = false;
  bool logprobs = false;             // report the chosen token's log-probability
  int32_t top_logprobs = 0;          // and this many most likely alternatives (0..20)
  bool return_logits = false;        // hand the raw logits to the observer (tests, tools)
};

enum class FinishReason { kLength, kStop, kCancelled, kError };
const char* finish_reason_name(FinishReason reason);

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

struct TokenEvent {
  int32_t token = 0;
  std::optional<float> logprob;          // when options.logprobs
  std::vector<TokenLogprob> top_logprobs;  // when options.top_logprobs > 0, most likely first
  std::span<const float> logits;         // [vocab] when options.return_logits; valid in the callback only
};

struct RequestStats {
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // prompt tokens whose KV came from the prefix cache
  int32_t generated_tokens = 0;
  int32_t preemptions = 0;
  double queue_seconds = 0;          // submit -> first scheduled
  double first_token_seconds = 0;    // submit -> first token
  double total_seconds = 0;          // submit -> finish
};

// Receives a request's tokens and its end, on the scheduler's thread: keep callbacks short.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void on_token(const TokenEvent& event) = 0;
  virtual void on_finish(FinishReason reason, const RequestStats& stats) = 0;
};

struct Request {
  std::vector<int32_t> prompt;
  RequestOptions options;
  std::shared_ptr<RequestObserver> observer;
};

}  // namespace llm
