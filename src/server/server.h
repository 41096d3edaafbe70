// The server: one HttpServer, one Router with the OpenAI, Llama Stack and Ollama routes and the
// operations routes (/metrics, health), in front of a Stack. Adds request ids, API-key checks
// (constant time; health stays public), CORS (off unless an origin is configured), a Host check
// against DNS rebinding on loopback, and a log line and a metrics count per request.
#pragma once

#include <memory>
#include <string>

#include "server/http_server.h"
#include "server/router.h"
#include "stack/stack.h"

namespace llm::server {

struct ServerOptions {
  HttpServerOptions http;
  std::string api_key;      // empty: no key needed
  std::string cors_origin;  // empty: no CORS headers at all
  bool log_requests = true;
};

class Server {
 public:
  Server(stack::Stack& stack, ServerOptions options);
  ~Server();

  Status start();
  uint16_t port() const { return http_->port(); }
  void shutdown(std::chrono::milliseconds drain) { http_->shutdown(drain); }
  const Router& router() const { return router_; }

 private:
  HandlerResult dispatch(HttpRequest& request);
  std::string render_metrics() const;

  stack::Stack& stack_;
  ServerOptions options_;
  Router router_;
  struct Contexts;
  std::unique_ptr<Contexts> contexts_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<uint64_t> next_request_{1};
  uint64_t request_id_salt_ = 0;
};

// Constant-time comparison of a presented key with the configured one.
bool api_key_matches(std::string_view presented, std::string_view expected);

}  // namespace llm::server
