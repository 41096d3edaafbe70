// The server over real HTTP on loopback, in process, with a scripted provider (no model): bad
// requests get the right 4xx and a JSON body while the server keeps serving; limits, timeouts,
// API keys, CORS, streaming framing, and a client disconnect cancelling its generation.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "server/server.h"
#include "util/json.h"
#include "util/str.h"

namespace llm::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// Emits `tokens` deltas "t0 ", "t1 ", ... one every `delay` on its own thread.
class ScriptedProvider final : public stack::Provider {
 public:
  int tokens = 5;
  std::chrono::milliseconds delay{1};
  std::atomic<bool> full{false};
  std::atomic<bool> tokens_only{false};  // deltas carry token ids and no text (a model without a tokenizer)
  std::atomic<bool> last_ignore_eos{false};
  std::mutex mutex;
  std::set<uint64_t> cancelled;

  ~ScriptedProvider() override {
    for (auto& t : threads_) t.join();
  }
  const std::string& id() const override { return id_; }
  std::string type() const override { return "inline::scripted"; }
  std::vector<stack::ModelInfo> models() const override {
    return {stack::ModelInfo{.id = "scripted", .provider_id = id_, .provider_resource_id = "/dev/null", .context_length = 64}};
  }
  Result<uint64_t> generate(const stack::GenerateRequest& request, std::shared_ptr<stack::GenerationSink> sink) override {
    if (full) return make_error(ErrorCode::kUnavailable, "too many requests waiting");
    if (request.max_tokens && *request.max_tokens > 60) return make_error(ErrorCode::kInvalidArgument, "exceeds the model's context length");
    last_ignore_eos = request.ignore_eos;
    uint64_t id = next_++;
    int n = std::min(tokens, request.max_tokens.value_or(tokens));
    threads_.emplace_back([this, id, n, sink] {
      stack::GenerationResult result;
      for (int i = 0; i < n; ++i) {
        std::this_thread::sleep_for(delay);
        if (is_cancelled(id)) {
          result.finish = stack::GenerationFinish::kCancelled;
          sink->on_done(result);
          return;
        }
        if (tokens_only) {
          sink->on_delta(stack::GenerationDelta{.tokens = {100 + i}});
        } else {
          sink->on_delta(stack::GenerationDelta{.text = "t" + std::to_string(i) + " "});
        }
        ++result.usage.completion_tokens;
      }
      result.finish = stack::GenerationFinish::kLength;
      result.usage.prompt_tokens = 3;
      sink->on_done(result);
    });
    return id;
  }
  void cancel(uint64_t id) override {
    std::lock_guard lock(mutex);
    cancelled.insert(id);
  }
  Result<std::vector<int32_t>> tokenize(const std::string&, const std::string&) const override { return std::vector<int32_t>{}; }
  stack::ProviderStats stats() const override { return {}; }

 private:
  bool is_cancelled(uint64_t id) {
    std::lock_guard lock(mutex);
    return cancelled.count(id) != 0;
  }
  std::string id_ = "scripted";
  std::atomic<uint64_t> next_{1};
  std::vector<std::thread> threads_;
};

struct Reply {
  int status = 0;
  std::string body;
  http::fields headers;
};

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = {}) {
    auto p = std::make_unique<ScriptedProvider>();
    provider = p.get();
    stack.add_provider(std::move(p));
    options.http.port = 0;
    options.http.header_timeout = std::chrono::milliseconds(300);
    options.http.max_body_bytes = 64 << 10;
    options.log_requests = false;
    server = std::make_unique<Server>(stack, options);
    ASSERT_TRUE(server->start().ok());
  }
  void TearDown() override {
    if (server) server->shutdown(std::chrono::milliseconds(1000));
  }

  Reply request(const std::string& method, const std::string& target, const std::string& body = "",
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    beast::error_code ec;
    http::read(stream, buffer, res, ec);
    return Reply{.status = ec ? 0 : static_cast<int>(res.result_int()), .body = res.body(), .headers = res.base()};
  }
  // Raw bytes in, raw bytes out (until the server closes or 2 s pass).
  std::string raw(const std::string& bytes, std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    net::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
    net::write(socket, net::buffer(bytes));
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + wait;
    socket.non_blocking(true);
    char chunk[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      beast::error_code ec;
      size_t n = socket.read_some(net::buffer(chunk), ec);
      if (ec == net::error::would_block) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (ec) break;
      out.append(chunk, n);
    }
    return out;
  }
  void expect_json_error(const Reply& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    Result<Json> body = parse_json(r.body, "error body");
    ASSERT_TRUE(body.ok()) << r.body;
    EXPECT_TRUE(body->contains("error")) << r.body;
  }
  bool still_serving() { return request("GET", "/v1/models").status == 200; }

  stack::Stack stack{"test"};
  ScriptedProvider* provider = nullptr;
  std::unique_ptr<Server> server;
};

const std::string kChat = R"({"model": "scripted", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4)";
const std::string kChatBase = R"({"model": "scripted", "messages": [{"role": "user", "content": "hi"}])";

TEST_F(ServerTest, ChatCompletionWholeAndStreamed) {
  start();
  Reply whole = request("POST", "/v1/chat/completions", kChat + "}");
  ASSERT_EQ(whole.status, 200) << whole.body;
  Json j = Json::parse(whole.body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "t0 t1 t2 t3 ");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 4);
  EXPECT_FALSE(std::string(whole.headers["X-Request-Id"]).empty());

  Reply streamed = request("POST", "/v1/chat/completions", kChat + R"(, "stream": true, "stream_options": {"include_usage": true}})");
  ASSERT_EQ(streamed.status, 200);
  EXPECT_EQ(std::string(streamed.headers[http::field::content_type]), "text/event-stream");
  EXPECT_NE(streamed.body.find(R"("delta":{"content":"t0 "})"), std::string::npos) << streamed.body;
  EXPECT_NE(streamed.body.find(R"("usage":{)"), std::string::npos);
  EXPECT_TRUE(streamed.body.ends_with("data: [DONE]\n\n"));
}

TEST_F(ServerTest, TokenOnlyDeltasStreamOneCompletionEventPerTokenAndIgnoreEosIsPassedOn) {
  start();
  provider->tokens_only = true;
  Reply r = request("POST", "/v1/completions",
                    R"({"model": "scripted", "prompt": [1, 2, 3], "max_tokens": 4, "ignore_eos": true, "stream": true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(provider->last_ignore_eos);
  size_t token_events = 0, length_events = 0, pos = 0, end;
  while ((pos = r.body.find("data: {", pos)) != std::string::npos && (end = r.body.find("\n\n", pos)) != std::string::npos) {
    Json event = Json::parse(r.body.substr(pos + 6, end - pos - 6));
    pos = end;
    for (const Json& choice : event["choices"]) {
      if (choice["finish_reason"].is_null() && choice["text"] == "") ++token_events;
      if (choice["finish_reason"] == "length") ++length_events;
    }
  }
  EXPECT_EQ(token_events, 4u) << r.body;
  EXPECT_EQ(length_events, 1u) << r.body;

  Reply plain = request("POST", "/v1/completions", R"({"model": "scripted", "prompt": [1, 2, 3], "max_tokens": 2})");
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_FALSE(provider->last_ignore_eos);
}

TEST_F(ServerTest, OllamaStreamsNdjson) {
  start();
  Reply r = request("POST", "/api/generate", R"({"model": "scripted:latest", "prompt": "hi", "raw": true, "options": {"num_predict": 2}})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(std::string(r.headers[http::field::content_type]), "application/x-ndjson");
  std::vector<Json> lines;
  size_t pos = 0, nl;
  while ((nl = r.body.find('\n', pos)) != std::string::npos) {
    lines.push_back(Json::parse(r.body.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["response"], "t0 ");
  EXPECT_EQ(lines[2]["done"], true);
  EXPECT_EQ(lines[2]["eval_count"], 2);
  EXPECT_TRUE(lines[2].contains("total_duration"));
}

TEST_F(ServerTest, BadRequestsGet4xxAndTheServerKeepsServing) {
  start();
  expect_json_error(request("POST", "/v1/chat/completions", "{not json"), 400);
  expect_json_error(request("POST", "/v1/chat/completions", "[1, 2]"), 400);
  expect_json_error(request("POST", "/v1/chat/completions", R"({"model": 5, "messages": []})"), 400);
  expect_json_error(request("POST", "/v1/chat/completions", kChat + R"(, "temperature": "hot"})"), 400);
  expect_json_error(request("POST", "/v1/chat/completions", kChatBase + R"(, "max_tokens": -5})"), 400);
  expect_json_error(request("POST", "/v1/chat/completions",
                            R"({"model": "scripted", "messages": [{"role": "user", "content": "x"}], "max_tokens": 100000})"), 400);
  expect_json_error(request("POST", "/v1/chat/completions", kChat + R"(, "n": 0})"), 400);
  expect_json_error(request("POST", "/v1/chat/completions", kChat + R"(, "n": 1000000})"), 400);
  expect_json_error(request("POST", "/v1/chat/completions", kChat + R"(, "logprobs": true, "top_logprobs": 21})"), 400);
  expect_json_error(request("POST", "/v1/chat/completions", kChat + R"(, "top_p": 0})"), 400);
  expect_json_error(request("POST", "/v1/chat/completions", R"({"model": "nope", "messages": [{"role": "user", "content": "x"}]})"), 404);
  expect_json_error(request("POST", "/v1/chat/completions", "{\"model\": \"scripted\", \"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}"), 400);
  std::string deep(20000, '[');
  expect_json_error(request("POST", "/v1/chat/completions", deep), 400);
  expect_json_error(request("POST", "/v1/completions", R"({"model": "scripted", "prompt": []})"), 400);
  expect_json_error(request("POST", "/api/generate", R"({"model": "nope", "prompt": "x"})"), 404);
  expect_json_error(request("GET", "/v1/no-such-route"), 404);
  expect_json_error(request("DELETE", "/v1/models"), 405);
  Reply r = request("POST", "/v1/chat/completions", kChatBase + R"(, "max_tokens": "many"})");
  EXPECT_EQ(Json::parse(r.body)["error"]["param"], "max_tokens");
  EXPECT_TRUE(still_serving());
}

TEST_F(ServerTest, OversizedBodyAndHeadersAreRefused) {
  start();
  std::string big(100 << 10, 'x');
  expect_json_error(request("POST", "/v1/chat/completions", "{\"model\": \"" + big + "\"}"), 413);
  std::string answer = raw("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(100 << 10, 'a') + "\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 100);
  EXPECT_TRUE(still_serving());
}

TEST_F(ServerTest, SlowlorisConnectionIsClosed) {
  start();
  auto t0 = std::chrono::steady_clock::now();
  std::string answer = raw("GET /v1/models HTTP/1.1\r\nHost: 12", std::chrono::milliseconds(3000));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(answer, "");
  EXPECT_LT(seconds, 2.0);  // closed at the 300 ms header timeout, not at our 3 s wait
  EXPECT_TRUE(still_serving());
}

TEST_F(ServerTest, QueueFullIs429WithRetryAfter) {
  start();
  provider->full = true;
  Reply r = request("POST", "/v1/chat/completions", kChat + "}");
  expect_json_error(r, 429);
  EXPECT_EQ(std::string(r.headers["Retry-After"]), "1");
}

TEST_F(ServerTest, ApiKeyGuardsEveryRouteButHealth) {
  start(ServerOptions{.api_key = "sekrit-key"});
  EXPECT_EQ(request("GET", "/v1/health").status, 200);
  expect_json_error(request("GET", "/v1/models"), 401);
  expect_json_error(request("GET", "/metrics"), 401);
  expect_json_error(request("GET", "/api/tags"), 401);
  expect_json_error(request("GET", "/v1/models", "", {{"Authorization", "Bearer sekrit-kez"}}), 401);
  expect_json_error(request("GET", "/v1/models", "", {{"Authorization", "Bearer SEKRIT-KEY"}}), 401);
  EXPECT_EQ(request("GET", "/v1/models", "", {{"Authorization", "Bearer sekrit-key"}}).status, 200);
  EXPECT_EQ(request("GET", "/v1/models", "", {{"X-Api-Key", "sekrit-key"}}).status, 200);
  EXPECT_TRUE(api_key_matches("abc", "abc"));
  EXPECT_FALSE(api_key_matches("abcd", "abc"));
  EXPECT_FALSE(api_key_matches("", ""));
}

TEST_F(ServerTest, CorsIsOffUnlessAnOriginIsConfigured) {
  start();
  Reply r = request("GET", "/v1/models", "", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(r.headers.count("Access-Control-Allow-Origin"), 0u);
  EXPECT_EQ(request("OPTIONS", "/v1/models", "", {{"Origin", "http://evil.example"}}).status, 404);
  expect_json_error(request("GET", "/v1/models", "", {{"Host", "attacker.example"}}), 403);  // DNS rebinding
}

TEST_F(ServerTest, CorsOriginWhenConfigured) {
  start(ServerOptions{.cors_origin = "http://app.example"});
  Reply r = request("GET", "/v1/models", "", {{"Origin", "http://app.example"}});
  EXPECT_EQ(std::string(r.headers["Access-Control-Allow-Origin"]), "http://app.example");
  EXPECT_EQ(request("GET", "/v1/models", "", {{"Origin", "http://other.example"}}).headers.count("Access-Control-Allow-Origin"), 0u);
}

TEST_F(ServerTest, DisconnectMidStreamCancelsTheGeneration) {
  start();
  provider->tokens = 1000;
  provider->delay = std::chrono::milliseconds(5);
  std::string body = R"({"model": "scripted", "prompt": "x", "max_tokens": 50, "stream": true})";
  // Read the head and a few events, then hang up.
  std::string partial = raw(str("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                "Content-Length: ", body.size(), "\r\n\r\n", body),
                            std::chrono::milliseconds(60));
  EXPECT_EQ(partial.rfind("HTTP/1.1 200", 0), 0u);
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(provider->mutex);
      if (!provider->cancelled.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(provider->mutex);
  EXPECT_EQ(provider->cancelled.size(), 1u);
}

TEST_F(ServerTest, MetricsAndLlamaStackRoutes) {
  start();
  Reply m = request("GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  for (const char* name : {"llama_requests_waiting", "llama_requests_running", "llama_kv_blocks_used", "llama_kv_blocks_free",
                           "llama_prompt_tokens_total", "llama_generated_tokens_total",
                           "llama_time_to_first_token_seconds_bucket", "llama_inter_token_seconds_bucket"}) {
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(Json::parse(request("GET", "/v1/health").body)["status"], "OK");
  EXPECT_EQ(Json::parse(request("GET", "/v1/models/scripted").body)["identifier"], "scripted");
  EXPECT_FALSE(Json::parse(request("GET", "/v1/inspect/routes").body)["data"].empty());
  Reply native = request("POST", "/v1/inference/chat-completion",
                         R"({"model_id": "scripted", "messages": [{"role": "user", "content": "hi"}], "stream": true,
                             "sampling_params": {"strategy": {"type": "greedy"}, "max_tokens": 2}})");
  ASSERT_EQ(native.status, 200);
  EXPECT_NE(native.body.find(R"("event_type":"start")"), std::string::npos);
  EXPECT_NE(native.body.find(R"("event_type":"complete")"), std::string::npos);
  EXPECT_NE(native.body.find(R"("stop_reason":"out_of_tokens")"), std::string::npos);
  EXPECT_EQ(request("GET", "/").body, "Ollama is running");
}

}  // namespace
}  // namespace llm::server
