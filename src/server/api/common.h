// Shared by the API front ends: request-body validation (typed fields whose errors name the
// parameter), error mapping, safe JSON output, and the bridge from generations to a
// ResponseChannel. Inside this module a bad request travels as a thrown ApiError; each front end
// catches it at its handler boundary and answers in its own error shape.
#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/http_types.h"
#include "server/router.h"
#include "stack/stack.h"
#include "util/json.h"

namespace llm::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string param;  // the offending field, when there is one
  std::string code;   // "context_length_exceeded", "model_not_found", ...
  std::string type = "invalid_request_error";
};

[[noreturn]] void throw_bad(std::string message, std::string param = {}, std::string code = {});
// Result errors from the stack: kInvalidArgument -> 400, kNotFound -> 404, kUnavailable -> 429
// (503 while shutting down), kUnsupported -> 400, the rest -> 500.
ApiError api_error_from(const Error& error, bool draining);

struct ApiContext {
  stack::Stack& stack;
  const Router& router;
  std::function<bool()> draining;
};

// The request body as a JSON object (400 for anything else; depth and duplicate keys capped).
Json parse_body(const HttpRequest& request);

// Optional typed fields: absent or null -> nullopt; a wrong type or range -> ApiError naming `key`.
std::optional<std::string> opt_string(const Json& object, const char* key);
std::optional<int64_t> opt_int(const Json& object, const char* key, int64_t min, int64_t max);
std::optional<double> opt_number(const Json& object, const char* key, double min, double max);
std::optional<bool> opt_bool(const Json& object, const char* key);
std::string need_string(const Json& object, const char* key);
// A stop list: a string or a list of at most `max_count` non-empty strings of at most 1024 bytes.
std::vector<std::string> opt_stop_list(const Json& object, const char* key, size_t max_count);

// JSON text that never throws on invalid UTF-8 (replaced by U+FFFD).
std::string dump_json(const Json& value);
// A token's bytes as valid UTF-8 (invalid bytes replaced).
std::string valid_utf8(const std::string& bytes);

HttpResponse json_response(int status, const Json& body);
int64_t unix_now();

struct GenerationCallbacks {
  std::function<void(size_t index, const stack::GenerationDelta& delta)> on_delta;
  std::function<void(size_t index, const stack::GenerationResult& result)> on_choice_done;
  std::function<void()> on_all_done;
};

// Starts `requests` on `provider` for one response. Callbacks run on the provider's thread, one
// at a time. Cancelling the channel cancels them all. On error nothing is called back and the
// ones already started are cancelled.
Status start_generations(stack::Provider& provider, const std::vector<stack::GenerateRequest>& requests,
                         const std::shared_ptr<ResponseChannel>& channel, GenerationCallbacks callbacks);

// OpenAI-style sampling fields shared by chat and completions: temperature, top_p, seed,
// presence/frequency penalties; n is returned separately.
void read_openai_sampling(const Json& body, stack::GenerateRequest& request);
// A seed for requests that sample without one (seeded requests are reproducible).
uint64_t random_seed();

}  // namespace llm::server
