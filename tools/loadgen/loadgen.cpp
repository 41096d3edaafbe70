// A bounded load generator for `llama serve`, loopback only. It runs N concurrent streaming
// completions (greedy, token-id prompts), makes a share of them disconnect mid-stream, and checks:
// every request that was not abandoned returns exactly the text the same prompt gives alone, the
// server answers throughout, and afterwards every KV block is free again (GET /metrics).
//
// usage: llama-loadgen --port P [--host 127.0.0.1] [--model ID] [--requests 256] [--concurrency 256]
//                      [--max-tokens 24] [--disconnect-share 0.25] [--prompts 8] [--api-key K]
// Exit status 0 when every check passed.
#include <atomic>
#include <functional>
#include <utility>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string model;
  std::string api_key;
  int requests = 256;
  int concurrency = 256;
  int max_tokens = 24;
  int prompts = 8;
  double disconnect_share = 0.25;
};

struct Reply {
  int status = 0;
  std::string body;
};

// One request on its own connection. `on_chunk` may return false to hang up mid-response.
Reply send(const Options& o, const std::string& method, const std::string& target, const std::string& body,
           const std::function<bool(const std::string&)>& on_chunk = nullptr) {
  Reply reply;
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(300));
    stream.connect(resolver.resolve(o.host, o.port));
    http::request<http::string_body> req{method == "GET" ? http::verb::get : http::verb::post, target, 11};
    req.set(http::field::host, o.host);
    req.set(http::field::content_type, "application/json");
    if (!o.api_key.empty()) req.set(http::field::authorization, "Bearer " + o.api_key);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read_header(stream, buffer, parser);
    reply.status = static_cast<int>(parser.get().result_int());
    if (on_chunk) {
      // Read body pieces as they come; hand each new piece to on_chunk.
      std::string seen;
      while (!parser.is_done()) {
        beast::error_code ec;
        http::read_some(stream, buffer, parser, ec);
        if (ec) break;
        const std::string& b = parser.get().body();
        if (b.size() > seen.size()) {
          std::string piece = b.substr(seen.size());
          seen = b;
          if (!on_chunk(piece)) {
            stream.socket().shutdown(tcp::socket::shutdown_both, ec);
            stream.close();
            reply.status = -1;  // we hung up
            return reply;
          }
        }
      }
      reply.body = parser.get().body();
    } else {
      http::read(stream, buffer, parser);
      reply.body = parser.get().body();
    }
  } catch (const std::exception& e) {
    reply.status = 0;
    reply.body = e.what();
  }
  return reply;
}

// The concatenated text of an SSE completions stream.
std::string sse_text(const std::string& body, bool& saw_done) {
  std::string text;
  saw_done = false;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string data = body.substr(pos + 6, end - pos - 6);
    pos = end + 2;
    if (data == "[DONE]") {
      saw_done = true;
      continue;
    }
    Json event = Json::parse(data, nullptr, false);
    if (event.is_discarded() || !event.contains("choices")) continue;
    for (const Json& c : event["choices"]) text += c.value("text", "");
  }
  return text;
}

double metric(const std::string& text, const std::string& name) {
  size_t pos = 0;
  while ((pos = text.find(name, pos)) != std::string::npos) {
    bool line_start = pos == 0 || text[pos - 1] == '\n';
    size_t after = pos + name.size();
    if (line_start && after < text.size() && text[after] == ' ') return std::atof(text.c_str() + after + 1);
    pos = after;
  }
  return -1;
}

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "loadgen: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--host") o.host = next();
    else if (a == "--port") o.port = next();
    else if (a == "--model") o.model = next();
    else if (a == "--api-key") o.api_key = next();
    else if (a == "--requests") o.requests = std::atoi(next().c_str());
    else if (a == "--concurrency") o.concurrency = std::atoi(next().c_str());
    else if (a == "--max-tokens") o.max_tokens = std::atoi(next().c_str());
    else if (a == "--prompts") o.prompts = std::atoi(next().c_str());
    else if (a == "--disconnect-share") o.disconnect_share = std::atof(next().c_str());
    else {
      std::fprintf(stderr, "usage: llama-loadgen --port P [--model ID] [--requests N] [--concurrency N] "
                           "[--max-tokens N] [--disconnect-share F] [--prompts N] [--api-key K]\n");
      return 2;
    }
  }
  // Bounded and loopback only: this is a test tool, not a way to flood other machines.
  if (o.host != "127.0.0.1" && o.host != "::1" && o.host != "localhost") {
    std::fprintf(stderr, "loadgen: only loopback hosts are allowed, got %s\n", o.host.c_str());
    return 2;
  }
  if (o.port.empty() || o.requests < 1 || o.requests > 4096 || o.concurrency < 1 || o.concurrency > 1024 ||
      o.max_tokens < 1 || o.max_tokens > 4096 || o.prompts < 1 || o.prompts > 256) {
    std::fprintf(stderr, "loadgen: --port is required; requests <= 4096, concurrency <= 1024, max-tokens <= 4096\n");
    return 2;
  }
  if (o.model.empty()) {
    Reply models = send(o, "GET", "/v1/models", "");
    Json list = Json::parse(models.body, nullptr, false);
    if (models.status != 200 || list.is_discarded() || list["data"].empty()) {
      std::fprintf(stderr, "loadgen: GET /v1/models failed (%d)\n", models.status);
      return 1;
    }
    o.model = list["data"][0]["id"].get<std::string>();
  }
  auto body_for = [&](int prompt, bool stream) {
    std::vector<int> ids = {1, 17 + prompt, 42, 99 + prompt % 7, 7, 3 + prompt};
    return Json{{"model", o.model}, {"prompt", ids}, {"max_tokens", o.max_tokens}, {"temperature", 0}, {"stream", stream}}.dump();
  };
  // 1. References: each prompt alone.
  std::vector<std::string> reference(static_cast<size_t>(o.prompts));
  for (int p = 0; p < o.prompts; ++p) {
    Reply r = send(o, "POST", "/v1/completions", body_for(p, false));
    Json j = Json::parse(r.body, nullptr, false);
    if (r.status != 200 || j.is_discarded()) {
      std::fprintf(stderr, "loadgen: reference request %d failed: %d %s\n", p, r.status, r.body.c_str());
      return 1;
    }
    reference[static_cast<size_t>(p)] = j["choices"][0]["text"].get<std::string>();
  }
  // 2. The load.
  std::atomic<int> next{0}, completed{0}, abandoned{0}, mismatched{0}, failed{0};
  std::atomic<int64_t> bytes{0};
  std::mutex print_mutex;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < std::min(o.concurrency, o.requests); ++w) {
    workers.emplace_back([&] {
      for (int i; (i = next++) < o.requests;) {
        int prompt = i % o.prompts;
        bool hang_up = (i * 7919 % 1000) < static_cast<int>(o.disconnect_share * 1000);
        int chunks = 0;
        Reply r = send(o, "POST", "/v1/completions", body_for(prompt, true), [&](const std::string&) {
          return !(hang_up && ++chunks >= 2);
        });
        bytes += static_cast<int64_t>(r.body.size());
        if (r.status == -1) {
          ++abandoned;
          continue;
        }
        bool saw_done = false;
        std::string text = r.status == 200 ? sse_text(r.body, saw_done) : std::string();
        if (r.status != 200 || !saw_done) {
          ++failed;
          std::lock_guard lock(print_mutex);
          std::fprintf(stderr, "request %d: status %d, [DONE] %s: %.200s\n", i, r.status, saw_done ? "seen" : "missing",
                       r.body.c_str());
        } else if (text != reference[static_cast<size_t>(prompt)]) {
          ++mismatched;
          std::lock_guard lock(print_mutex);
          std::fprintf(stderr, "request %d: text differs from the same prompt alone\n", i);
        } else {
          ++completed;
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // 3. Every block back (cancellations land within a scheduler step; allow a moment).
  double used = -1, running = -1;
  for (int attempt = 0; attempt < 100; ++attempt) {
    Reply m = send(o, "GET", "/metrics", "");
    used = metric(m.body, "llama_kv_blocks_used");
    running = metric(m.body, "llama_requests_running");
    if (used == 0 && running == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Reply health = send(o, "GET", "/v1/health", "");
  std::printf("loadgen: %d requests (%d at once) in %.2f s: %d complete and identical to their prompt alone, "
              "%d disconnected mid-stream, %d differed, %d failed; KV blocks used afterwards: %.0f, running: %.0f; "
              "health %d\n",
              o.requests, std::min(o.concurrency, o.requests), seconds, completed.load(), abandoned.load(),
              mismatched.load(), failed.load(), used, running, health.status);
  bool ok = mismatched == 0 && failed == 0 && used == 0 && running == 0 && health.status == 200;
  return ok ? 0 : 1;
}
