#include "stack/metrics.h"

#include <algorithm>
#include <cstdio>

#include "util/str.h"

namespace llm::stack {
namespace {

std::string format_number(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.6g", v);
  return buffer;
}

// Prometheus label values escape backslash, quote and newline.
std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t bucket = static_cast<size_t>(std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
                                      upper_bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, const std::string& help, std::string& out) const {
  std::lock_guard lock(mutex_);
  out += str("# HELP ", name, " ", help, "\n# TYPE ", name, " histogram\n");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += str(name, "_bucket{le=\"", format_number(upper_bounds_[i]), "\"} ", cumulative, "\n");
  }
  cumulative += counts_.back();
  out += str(name, "_bucket{le=\"+Inf\"} ", cumulative, "\n");
  out += str(name, "_sum ", format_number(sum_), "\n", name, "_count ", count_, "\n");
}

ServingMetrics::ServingMetrics()
    : time_to_first_token_seconds({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      inter_token_seconds({0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5}),
      request_seconds({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}) {}

void ServingMetrics::count_request(const std::string& route, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
}

void ServingMetrics::render_requests(std::string& out) const {
  std::lock_guard lock(mutex_);
  out += "# HELP llama_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE llama_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out += str("llama_http_requests_total{route=\"", escape_label(key.first), "\",status=\"", key.second, "\"} ",
               count, "\n");
  }
}

}  // namespace llm::stack
