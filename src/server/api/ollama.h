// Ollama API: GET / and /api/version, GET|HEAD /api/tags, POST /api/show, GET /api/ps,
// POST /api/generate (raw too) and POST /api/chat with NDJSON streaming and Ollama's field
// names and nanosecond timings, so Ollama clients and Llama Stack's remote::ollama work unchanged.
#pragma once

#include "server/api/common.h"

namespace llm::server {

void add_ollama_routes(Router& router, ApiContext& context);

}  // namespace llm::server
