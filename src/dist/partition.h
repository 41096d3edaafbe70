// Shard math: contiguous, balanced splits of n items over ranks, in whole units (a head, a
// quantization block). Pure functions; model/tensor_parallel.h applies them to Llama's dims.
#pragma once

#include <cstdint>
#include <ostream>

namespace llm {

// The half-open index range [begin, end).
struct Range {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};

inline std::ostream& operator<<(std::ostream& out, const Range& range) {
  return out << "[" << range.begin << ", " << range.end << ")";
}

// Part `index` of `parts` contiguous parts of [0, n): whole units of `unit` items (n must be a
// multiple of unit), sizes differing by at most one unit, the earlier parts the larger.
// Example: split_range(10, 3, i) = [0,4) [4,7) [7,10).
Range split_range(int64_t n, int64_t parts, int64_t index, int64_t unit = 1);

}  // namespace llm
