#include "serving_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>

namespace loadgen {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

uint64_t next_random(uint64_t& state) {  // splitmix64
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double next_uniform(uint64_t& state) {  // (0, 1)
  return (static_cast<double>(next_random(state) >> 11) + 0.5) * 0x1.0p-53;
}

int32_t sample_length(const LengthDistribution& d, uint64_t& state) {
  double u1 = next_uniform(state), u2 = next_uniform(state);
  double normal = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  double length = std::round(d.median * std::exp(d.sigma * normal));
  return static_cast<int32_t>(std::clamp(length, static_cast<double>(d.min), static_cast<double>(d.max)));
}

// Linear interpolation between closest ranks (numpy's default). `values` must be sorted.
double percentile(const std::vector<double>& values, double p) {
  if (values.empty()) return NAN;
  double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  size_t lo = static_cast<size_t>(rank);
  size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

double mean(const std::vector<double>& values) {
  return values.empty() ? NAN : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

struct Outcome {
  bool ok = false;
  std::string error;
  int32_t prompt_tokens = 0;
  int32_t target_tokens = 0;
  int32_t generated_tokens = -1;  // from the stream's usage chunk
  int32_t token_events = 0;
  double ttft_s = NAN;
  double latency_s = NAN;
  std::vector<double> inter_token_s;
};

std::string request_body(const std::string& model, const WorkItem& item) {
  return Json{{"model", model},
              {"prompt", item.prompt},
              {"max_tokens", item.output_tokens},
              {"ignore_eos", true},
              {"temperature", 0},
              {"stream", true},
              {"stream_options", {{"include_usage", true}}}}
      .dump();
}

// Streams one request and times every SSE event that carries a token.
Outcome run_one(const Target& target, const std::string& model, const WorkItem& item) {
  Outcome out;
  out.prompt_tokens = static_cast<int32_t>(item.prompt.size());
  out.target_tokens = item.output_tokens;
  std::string pending;
  bool saw_done = false;
  Clock::time_point start = Clock::now(), last;
  auto on_chunk = [&](const std::string& piece) {
    Clock::time_point now = Clock::now();
    pending += piece;
    size_t end;
    while ((end = pending.find("\n\n")) != std::string::npos) {
      std::string event = pending.substr(0, end);
      pending.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      std::string data = event.substr(6);
      if (data == "[DONE]") {
        saw_done = true;
        continue;
      }
      Json j = Json::parse(data, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.contains("error")) out.error = j["error"].dump();
      if (j.contains("usage") && j["usage"].is_object()) {
        out.generated_tokens = j["usage"].value("completion_tokens", -1);
      }
      if (!j.contains("choices")) continue;
      for (const Json& c : j["choices"]) {
        if (!c["finish_reason"].is_null()) continue;
        if (out.token_events == 0) {
          out.ttft_s = std::chrono::duration<double>(now - start).count();
        } else {
          out.inter_token_s.push_back(std::chrono::duration<double>(now - last).count());
        }
        last = now;
        ++out.token_events;
      }
    }
    return true;
  };
  Reply reply = send(target, "POST", "/v1/completions", request_body(model, item), on_chunk);
  out.latency_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (reply.status != 200) {
    out.error = "status " + std::to_string(reply.status) + ": " + reply.body.substr(0, 300);
  } else if (!saw_done && out.error.empty()) {
    out.error = "the stream ended without [DONE]";
  } else if (out.error.empty() && out.generated_tokens != item.output_tokens) {
    out.error = "generated " + std::to_string(out.generated_tokens) + " tokens, asked for " +
                std::to_string(item.output_tokens);
  }
  out.ok = out.error.empty();
  return out;
}

// Reads vocabulary size and context length from the Ollama-style /api/show (it names both).
bool read_model_facts(const Target& target, const std::string& model, int32_t& vocab_size, int32_t& context_length) {
  Reply r = send(target, "POST", "/api/show", Json{{"model", model}}.dump());
  Json j = Json::parse(r.body, nullptr, false);
  if (r.status != 200 || j.is_discarded() || !j.contains("model_info")) return false;
  vocab_size = j["model_info"].value("llama.vocab_size", 0);
  context_length = j["model_info"].value("llama.context_length", 0);
  return vocab_size > 0;
}

Json stats_ms(std::vector<double> seconds) {
  std::sort(seconds.begin(), seconds.end());
  return {{"mean", mean(seconds) * 1e3}, {"p50", percentile(seconds, 50) * 1e3}, {"p90", percentile(seconds, 90) * 1e3},
          {"p99", percentile(seconds, 99) * 1e3}, {"max", seconds.empty() ? NAN : seconds.back() * 1e3},
          {"count", seconds.size()}};
}

}  // namespace

std::vector<WorkItem> make_sharegpt_like_workload(const WorkloadOptions& options) {
  uint64_t state = options.seed * 0x2545f4914f6cdd1dull + 1;
  std::vector<WorkItem> items(static_cast<size_t>(options.requests));
  for (WorkItem& item : items) {
    int32_t n_input = sample_length(options.input, state);
    int32_t n_output = sample_length(options.output, state);
    if (options.context_length > 0) {
      n_input = std::min(n_input, options.context_length - options.output.min);
      n_output = std::min(n_output, options.context_length - n_input);
    }
    item.prompt.resize(static_cast<size_t>(n_input));
    for (int32_t& id : item.prompt) {
      id = static_cast<int32_t>(next_random(state) % static_cast<uint64_t>(std::max(options.vocab_size, 1)));
    }
    item.output_tokens = n_output;
  }
  return items;
}

int run_serving_bench(BenchOptions o) {
  int32_t vocab = 0, context = 0;
  if (!read_model_facts(o.target, o.model, vocab, context)) {
    std::fprintf(stderr, "loadgen: POST /api/show for %s did not give the vocabulary size\n", o.model.c_str());
    return 1;
  }
  if (o.workload.vocab_size == 0) o.workload.vocab_size = vocab;
  o.workload.context_length = context;
  std::vector<WorkItem> work = make_sharegpt_like_workload(o.workload);

  for (int32_t w = 0; w < o.warmup_requests; ++w) {
    Outcome warm = run_one(o.target, o.model, WorkItem{.prompt = {1, 2, 3, 4}, .output_tokens = 8});
    if (!warm.ok) {
      std::fprintf(stderr, "loadgen: warm-up request failed: %s\n", warm.error.c_str());
      return 1;
    }
  }

  std::vector<Outcome> outcomes(work.size());
  std::atomic<size_t> next{0};
  std::mutex print_mutex;
  int32_t workers = std::min<int32_t>(o.concurrency, static_cast<int32_t>(work.size()));
  Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int32_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (size_t i; (i = next++) < work.size();) {
        outcomes[i] = run_one(o.target, o.model, work[i]);
        if (!outcomes[i].ok) {
          std::lock_guard lock(print_mutex);
          std::fprintf(stderr, "request %zu: %s\n", i, outcomes[i].error.c_str());
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  int64_t failed = 0, input_tokens = 0, output_tokens = 0;
  std::vector<double> ttft, itl, tpot, latency;
  for (const Outcome& r : outcomes) {
    if (!r.ok) {
      ++failed;
      continue;
    }
    input_tokens += r.prompt_tokens;
    output_tokens += r.generated_tokens;
    ttft.push_back(r.ttft_s);
    latency.push_back(r.latency_s);
    itl.insert(itl.end(), r.inter_token_s.begin(), r.inter_token_s.end());
    if (r.generated_tokens > 1) tpot.push_back((r.latency_s - r.ttft_s) / (r.generated_tokens - 1));
  }
  int64_t completed = static_cast<int64_t>(outcomes.size()) - failed;
  Json ttft_ms = stats_ms(ttft), itl_ms = stats_ms(itl), tpot_ms = stats_ms(tpot), latency_ms = stats_ms(latency);
  Json report = {
      {"model", o.model},
      {"workload", {{"kind", "sharegpt-like log-normal"}, {"seed", o.workload.seed}, {"requests", work.size()},
                    {"input", {{"median", o.workload.input.median}, {"sigma", o.workload.input.sigma},
                               {"min", o.workload.input.min}, {"max", o.workload.input.max}}},
                    {"output", {{"median", o.workload.output.median}, {"sigma", o.workload.output.sigma},
                                {"min", o.workload.output.min}, {"max", o.workload.output.max}}},
                    {"vocab_size", o.workload.vocab_size}, {"context_length", context}}},
      {"concurrency", workers},
      {"duration_s", seconds},
      {"completed", completed},
      {"failed", failed},
      {"input_tokens", input_tokens},
      {"output_tokens", output_tokens},
      {"mean_input_tokens", completed > 0 ? static_cast<double>(input_tokens) / static_cast<double>(completed) : NAN},
      {"mean_output_tokens", completed > 0 ? static_cast<double>(output_tokens) / static_cast<double>(completed) : NAN},
      {"request_throughput", static_cast<double>(completed) / seconds},
      {"output_tokens_per_s", static_cast<double>(output_tokens) / seconds},
      {"total_tokens_per_s", static_cast<double>(input_tokens + output_tokens) / seconds},
      {"ttft_ms", ttft_ms},
      {"inter_token_ms", itl_ms},
      {"tpot_ms", tpot_ms},
      {"latency_ms", latency_ms},
  };
  std::printf("loadgen bench: %s, %zu requests, concurrency %d, seed %llu\n", o.model.c_str(), work.size(), workers,
              static_cast<unsigned long long>(o.workload.seed));
  std::printf("  completed %lld, failed %lld in %.2f s; mean input %.1f / output %.1f tokens\n",
              static_cast<long long>(completed), static_cast<long long>(failed), seconds,
              report["mean_input_tokens"].get<double>(), report["mean_output_tokens"].get<double>());
  std::printf("  output tok/s %.1f   total tok/s %.1f   requests/s %.2f\n", report["output_tokens_per_s"].get<double>(),
              report["total_tokens_per_s"].get<double>(), report["request_throughput"].get<double>());
  auto line = [](const char* name, const Json& s) {
    std::printf("  %-15s mean %8.2f  p50 %8.2f  p90 %8.2f  p99 %8.2f  max %8.2f ms\n", name, s["mean"].get<double>(),
                s["p50"].get<double>(), s["p90"].get<double>(), s["p99"].get<double>(), s["max"].get<double>());
  };
  line("TTFT", ttft_ms);
  line("inter-token", itl_ms);
  line("TPOT", tpot_ms);
  line("latency", latency_ms);
  if (!o.json_path.empty()) {
    std::string text = report.dump(2) + "\n";
    if (o.json_path == "-") {
      std::fputs(text.c_str(), stdout);
    } else if (FILE* f = std::fopen(o.json_path.c_str(), "w")) {
      std::fputs(text.c_str(), f);
      std::fclose(f);
    } else {
      std::fprintf(stderr, "loadgen: cannot write %s\n", o.json_path.c_str());
      return 1;
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace loadgen
