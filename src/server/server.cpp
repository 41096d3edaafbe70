#include "server/server.h"

#include <cctype>
#include <random>

#include "server/api/common.h"
#include "server/api/llama_stack.h"
#include "server/api/ollama.h"
#include "server/api/openai.h"
#include "util/log.h"
#include "util/str.h"

namespace llm::server {

struct Server::Contexts {
  std::unique_ptr<ApiContext> api;
};

bool api_key_matches(std::string_view presented, std::string_view expected) {
  // Every byte of the longer string is looked at, whatever the lengths and contents.
  size_t n = std::max(presented.size(), expected.size());
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char a = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    unsigned char b = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
    diff |= static_cast<unsigned char>(a ^ b);
  }
  return diff == 0 && !expected.empty();
}

namespace {

bool starts_with_ci(const std::string& s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool is_loopback_host(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

// "localhost:8321" -> "localhost"; "[::1]:80" -> "::1".
std::string host_name(const std::string& header) {
  if (!header.empty() && header[0] == '[') {
    size_t close = header.find(']');
    return close == std::string::npos ? header : header.substr(1, close - 1);
  }
  size_t colon = header.find(':');
  return colon == std::string::npos ? header : header.substr(0, colon);
}

HttpResponse error_for(const HttpRequest& request, int status, const std::string& message, const std::string& type) {
  if (request.path.rfind("/api/", 0) == 0) return json_response(status, {{"error", message}});  // Ollama's shape
  return openai_error_response(ApiError{.status = status, .message = message, .type = type});
}

}  // namespace

Server::Server(stack::Stack& stack, ServerOptions options)
    : stack_(stack), options_(std::move(options)), contexts_(std::make_unique<Contexts>()) {
  request_id_salt_ = std::random_device{}() & 0xffffff;
  contexts_->api = std::make_unique<ApiContext>(ApiContext{
      .stack = stack_, .router = router_, .draining = [this] { return http_ && http_->draining(); }});
  ApiContext& ctx = *contexts_->api;
  add_openai_routes(router_, ctx);
  add_llama_stack_routes(router_, ctx);
  add_ollama_routes(router_, ctx);
  router_.add({.method = "GET", .pattern = "/metrics", .api = "operations", .handler = [this](HttpRequest&) -> HandlerResult {
                 return HttpResponse{.content_type = "text/plain; version=0.0.4", .body = render_metrics()};
               }});
  router_.add({.method = "GET", .pattern = "/health", .api = "operations", .is_public = true,
               .handler = [](HttpRequest&) -> HandlerResult { return json_response(200, {{"status", "OK"}}); }});
  http_ = std::make_unique<HttpServer>(
      options_.http, [this](HttpRequest& r) { return dispatch(r); },
      [this](const HttpRequest& r, int status, double seconds) {
        stack_.metrics().count_request(r.route.empty() ? "unmatched" : r.route, status);
        if (options_.log_requests) {
          log_info(r.request_id, " ", r.remote, " ", r.method, " ", r.path, " ",
                   status == 0 ? std::string("client-gone") : std::to_string(status), " ",
                   static_cast<int64_t>(seconds * 1000), "ms");
        }
      });
}

Server::~Server() { http_->shutdown(std::chrono::milliseconds(0)); }

Status Server::start() { return http_->start(); }

HandlerResult Server::dispatch(HttpRequest& request) {
  request.request_id = str("req-", std::hex, request_id_salt_, "-", next_request_++);
  std::vector<std::pair<std::string, std::string>> extra_headers{{"X-Request-Id", request.request_id}};
  const std::string* origin = request.header("origin");
  bool cors = !options_.cors_origin.empty() && origin != nullptr &&
              (options_.cors_origin == "*" || *origin == options_.cors_origin);
  if (cors) {
    extra_headers.emplace_back("Access-Control-Allow-Origin", options_.cors_origin == "*" ? "*" : *origin);
    extra_headers.emplace_back("Vary", "Origin");
  }
  auto finish = [&](HandlerResult result) -> HandlerResult {
    if (auto* full = std::get_if<HttpResponse>(&result)) {
      full->headers.insert(full->headers.end(), extra_headers.begin(), extra_headers.end());
    } else {
      for (const auto& [name, value] : extra_headers) std::get<std::shared_ptr<ResponseChannel>>(result)->add_header(name, value);
    }
    return result;
  };
  // DNS rebinding: a loopback server answers only to loopback host names.
  if (is_loopback_host(options_.http.host)) {
    const std::string* host = request.header("host");
    if (host != nullptr && !is_loopback_host(host_name(*host))) {
      return finish(error_for(request, 403, str("host '", *host, "' is not allowed on a loopback server"), "permission_error"));
    }
  }
  if (request.method == "OPTIONS") {
    if (!cors) return finish(error_for(request, 404, "not found", "not_found_error"));
    HttpResponse preflight{.status = 204, .content_type = "text/plain"};
    preflight.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    preflight.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key");
    preflight.headers.emplace_back("Access-Control-Max-Age", "600");
    return finish(preflight);
  }
  const Route* route = nullptr;
  switch (router_.match(request, &route)) {
    case Router::Match::kNoPath:
      return finish(error_for(request, 404, str("no route ", request.method, " ", request.path), "not_found_error"));
    case Router::Match::kWrongMethod:
      return finish(error_for(request, 405, str("method ", request.method, " is not allowed on ", request.path),
                              "invalid_request_error"));
    case Router::Match::kFound: break;
  }
  if (!options_.api_key.empty() && !route->is_public) {
    std::string presented;
    if (const std::string* auth = request.header("authorization"); auth != nullptr && auth->size() > 7 &&
                                                                   starts_with_ci(*auth, "bearer ")) {
      presented = auth->substr(7);
    } else if (const std::string* key = request.header("x-api-key")) {
      presented = *key;
    }
    if (!api_key_matches(presented, options_.api_key)) {
      HttpResponse denied = error_for(request, 401, "invalid or missing API key", "authentication_error");
      denied.headers.emplace_back("WWW-Authenticate", "Bearer");
      return finish(denied);
    }
  }
  return finish(route->handler(request));
}

std::string Server::render_metrics() const {
  std::string out;
  stack::ProviderStats total;
  for (const auto& p : stack_.providers()) {
    stack::ProviderStats s = p->stats();
    total.waiting += s.waiting;
    total.running += s.running;
    total.kv_blocks_total += s.kv_blocks_total;
    total.kv_blocks_free += s.kv_blocks_free;
    total.kv_blocks_cached += s.kv_blocks_cached;
    total.preemptions += s.preemptions;
  }
  const stack::ServingMetrics& m = stack_.metrics();
  auto gauge = [&](const char* name, const char* help, int64_t value, const char* type = "gauge") {
    out += str("# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ", value, "\n");
  };
  gauge("llama_requests_waiting", "Requests queued for the engine (queue depth).", total.waiting);
  gauge("llama_requests_running", "Sequences running in the engine.", total.running);
  gauge("llama_kv_blocks_total", "KV cache blocks in the pool.", total.kv_blocks_total);
  gauge("llama_kv_blocks_used", "KV cache blocks held by sequences.", total.kv_blocks_total - total.kv_blocks_free);
  gauge("llama_kv_blocks_free", "KV cache blocks free (cached prefixes nobody uses included).", total.kv_blocks_free);
  gauge("llama_kv_blocks_cached", "Free KV blocks that still hold a cached prefix.", total.kv_blocks_cached);
  gauge("llama_preemptions_total", "Sequences preempted for lack of KV blocks.", total.preemptions, "counter");
  gauge("llama_prompt_tokens_total", "Prompt tokens of finished generations.", m.prompt_tokens.load(), "counter");
  gauge("llama_generated_tokens_total", "Tokens generated by finished generations.", m.generated_tokens.load(), "counter");
  out += "# HELP llama_generations_total Generations by outcome.\n# TYPE llama_generations_total counter\n";
  out += str("llama_generations_total{outcome=\"finished\"} ", m.generations_finished.load(), "\n");
  out += str("llama_generations_total{outcome=\"cancelled\"} ", m.generations_cancelled.load(), "\n");
  out += str("llama_generations_total{outcome=\"failed\"} ", m.generations_failed.load(), "\n");
  gauge("llama_http_connections", "Open HTTP connections.", http_->active_connections());
  m.time_to_first_token_seconds.render("llama_time_to_first_token_seconds", "Submit to first token.", out);
  m.inter_token_seconds.render("llama_inter_token_seconds", "Time between consecutive tokens of a sequence.", out);
  m.request_seconds.render("llama_generation_seconds", "Submit to finish of a generation.", out);
  m.render_requests(out);
  return out;
}

}  // namespace llm::server
