// Serving metrics that providers and the server update and GET /metrics renders in the Prometheus
// text format. Thread-safe; one instance per server, passed explicitly (no globals).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace llm::stack {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending; +Inf is implicit
  void observe(double value);
  // "name_bucket{le="0.01"} 3" ... "name_sum" "name_count".
  void render(const std::string& name, const std::string& help, std::string& out) const;

 private:
  std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // [upper_bounds.size() + 1], not cumulative
  double sum_ = 0;
  uint64_t count_ = 0;
};

struct ServingMetrics {
  ServingMetrics();

  Histogram time_to_first_token_seconds;
  Histogram inter_token_seconds;
  Histogram request_seconds;
  std::atomic<int64_t> prompt_tokens{0};      // prompt tokens of finished generations
  std::atomic<int64_t> generated_tokens{0};
  std::atomic<int64_t> generations_finished{0};
  std::atomic<int64_t> generations_cancelled{0};
  std::atomic<int64_t> generations_failed{0};

  // HTTP requests by (route pattern, status code).
  void count_request(const std::string& route, int status);
  void render_requests(std::string& out) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
};

}  // namespace llm::stack
