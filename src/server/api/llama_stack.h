// Llama Stack API: GET /v1/models/{id}, /v1/health, /v1/version, /v1/providers[/{id}],
// /v1/inspect/routes, and the native (v0.1-v0.2) POST /v1/inference/chat-completion and
// /v1/inference/completion with their start/progress/complete event stream.
// GET /v1/models itself is shared with OpenAI (api/openai.h model_object carries both shapes).
#pragma once

#include "server/api/common.h"

namespace llm::server {

void add_llama_stack_routes(Router& router, ApiContext& context);

}  // namespace llm::server
