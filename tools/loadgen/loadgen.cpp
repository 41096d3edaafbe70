// A bounded load generator for `llama serve`, loopback only. Two modes:
//
// Check (default): N concurrent streaming completions (greedy, token-id prompts), a share of them
// disconnecting mid-stream; every request that was not abandoned must return exactly the text the
// same prompt gives alone, the server must answer throughout, and afterwards every KV block must
// be free again (GET /metrics).
//
// Bench (--bench): a ShareGPT-like serving benchmark (serving_bench.h): output tok/s, TTFT and
// inter-token percentiles, request throughput, failures; JSON with --json PATH|-.
//
// usage: llama-loadgen --port P [--host 127.0.0.1] [--model ID] [--api-key K]
//          check: [--requests 256] [--concurrency 256] [--max-tokens 24] [--disconnect-share 0.25] [--prompts 8]
//          bench: --bench [--requests 1000] [--concurrency 64] [--seed 0] [--input-median 150]
//                 [--input-sigma 0.8] [--input-max 1024] [--output-median 130] [--output-sigma 0.8]
//                 [--output-max 512] [--vocab-size N] [--warmup 2] [--json PATH|-]
// Exit status 0 when every check passed (bench: no request failed).
#include <atomic>
#include <functional>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "client.h"
#include "serving_bench.h"

using Json = nlohmann::json;
using loadgen::Reply;

struct Options {
  loadgen::Target target;
  std::string model;
  int requests = -1;     // -1: the mode's default
  int concurrency = -1;
  int max_tokens = 24;
  int prompts = 8;
  double disconnect_share = 0.25;
  bool bench = false;
};

Reply send(const Options& o, const std::string& method, const std::string& path, const std::string& body,
           const std::function<bool(const std::string&)>& on_chunk = nullptr) {
  return loadgen::send(o.target, method, path, body, on_chunk);
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
  loadgen::BenchOptions bench;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "loadgen: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&]() { return std::atof(next().c_str()); };
    if (a == "--host") o.target.host = next();
    else if (a == "--port") o.target.port = next();
    else if (a == "--model") o.model = next();
    else if (a == "--api-key") o.target.api_key = next();
    else if (a == "--requests") o.requests = std::atoi(next().c_str());
    else if (a == "--concurrency") o.concurrency = std::atoi(next().c_str());
    else if (a == "--max-tokens") o.max_tokens = std::atoi(next().c_str());
    else if (a == "--prompts") o.prompts = std::atoi(next().c_str());
    else if (a == "--disconnect-share") o.disconnect_share = std::atof(next().c_str());
    else if (a == "--bench") o.bench = true;
    else if (a == "--seed") bench.workload.seed = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--input-median") bench.workload.input.median = number();
    else if (a == "--input-sigma") bench.workload.input.sigma = number();
    else if (a == "--input-max") bench.workload.input.max = std::atoi(next().c_str());
    else if (a == "--output-median") bench.workload.output.median = number();
    else if (a == "--output-sigma") bench.workload.output.sigma = number();
    else if (a == "--output-max") bench.workload.output.max = std::atoi(next().c_str());
    else if (a == "--vocab-size") bench.workload.vocab_size = std::atoi(next().c_str());
    else if (a == "--warmup") bench.warmup_requests = std::atoi(next().c_str());
    else if (a == "--json") bench.json_path = next();
    else {
      std::fprintf(stderr, "usage: llama-loadgen --port P [--model ID] [--requests N] [--concurrency N] "
                           "[--max-tokens N] [--disconnect-share F] [--prompts N] [--api-key K]\n"
                           "       llama-loadgen --port P --bench [--requests 1000] [--concurrency 64] [--seed 0] "
                           "[--input-median 150] [--input-sigma 0.8] [--input-max 1024] [--output-median 130] "
                           "[--output-sigma 0.8] [--output-max 512] [--vocab-size N] [--warmup 2] [--json PATH|-]\n");
      return 2;
    }
  }
  if (o.requests < 0) o.requests = o.bench ? 1000 : 256;
  if (o.concurrency < 0) o.concurrency = o.bench ? 64 : 256;
  // Bounded and loopback only: this is a test tool, not a way to flood other machines.
  if (!loadgen::is_loopback(o.target.host)) {
    std::fprintf(stderr, "loadgen: only loopback hosts are allowed, got %s\n", o.target.host.c_str());
    return 2;
  }
  if (o.target.port.empty() || o.requests < 1 || o.requests > 4096 || o.concurrency < 1 || o.concurrency > 1024 ||
      o.max_tokens < 1 || o.max_tokens > 4096 || o.prompts < 1 || o.prompts > 256) {
    std::fprintf(stderr, "loadgen: --port is required; requests <= 4096, concurrency <= 1024, max-tokens <= 4096\n");
    return 2;
  }
  const loadgen::LengthDistribution& in = bench.workload.input;
  const loadgen::LengthDistribution& out = bench.workload.output;
  if (o.bench && (in.median < 1 || in.max < in.min || in.max > 32768 || out.median < 1 || out.max < out.min ||
                  out.max > 4096 || in.sigma < 0 || out.sigma < 0 || bench.warmup_requests < 0 ||
                  bench.workload.vocab_size < 0)) {
    std::fprintf(stderr, "loadgen: bench lengths: medians >= 1, sigmas >= 0, input-max <= 32768, output-max <= 4096\n");
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
  if (o.bench) {
    bench.target = o.target;
    bench.model = o.model;
    bench.concurrency = o.concurrency;
    bench.workload.requests = o.requests;
    return loadgen::run_serving_bench(bench);
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
