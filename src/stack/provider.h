// Provider: something that serves models — the inline engine, or (later) a remote Ollama or
// OpenAI-compatible server. The API layer talks to providers through the Stack, never to the
// engine directly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stack/generation.h"
#include "util/result.h"

namespace llm::stack {

struct ProviderStats {
  int64_t waiting = 0;
  int64_t running = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_free = 0;
  int64_t kv_blocks_cached = 0;
  int64_t preemptions = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const std::string& id() const = 0;    // "inline"
  virtual std::string type() const = 0;         // "inline::llama-cpp-engine"
  virtual std::vector<ModelInfo> models() const = 0;

  // Validates and starts a generation; the sink hears its deltas and end. Errors:
  // kInvalidArgument (bad request: the client's fault), kNotFound (unknown model), kUnavailable
  // (queue full or shutting down). On error the sink is never called.
  virtual Result<uint64_t> generate(const GenerateRequest& request, std::shared_ptr<GenerationSink> sink) = 0;
  // Cancels a running generation; its sink gets on_done(kCancelled) soon. Unknown ids are ignored.
  virtual void cancel(uint64_t generation_id) = 0;

  // Token ids <-> text for the model (tokenize routes, Ollama's `context`).
  virtual Result<std::vector<int32_t>> tokenize(const std::string& model, const std::string& text) const = 0;

  virtual ProviderStats stats() const = 0;
};

}  // namespace llm::stack
