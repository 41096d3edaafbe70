// OpenAI API: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, and the same under
// /v1/openai/v1/ (Llama Stack 0.2.x clients). Translation only: JSON <-> stack::GenerateRequest.
#pragma once

#include "server/api/common.h"

namespace llm::server {

void add_openai_routes(Router& router, ApiContext& context);

// {"error": {"message", "type", "param", "code"}} with the status (429 adds Retry-After).
HttpResponse openai_error_response(const ApiError& error);

// The model object GET /v1/models lists: OpenAI's keys and Llama Stack's native ones together,
// so that both generations of clients read it.
Json model_object(const stack::ModelInfo& model);

// Chat messages in OpenAI's shape -> chat::ChatMessage (system/developer, user, assistant with
// tool_calls, tool with tool_call_id; text content parts). Throws ApiError.
std::vector<chat::ChatMessage> parse_openai_messages(const Json& messages);
// tools: [{"type": "function", "function": {"name", "description", "parameters"}}] -> the list the
// chat template takes. Names must be unique. Throws ApiError.
chat::OrderedJson parse_openai_tools(const Json& tools);

}  // namespace llm::server
