#include "dist/partition.h"

#include "util/check.h"

namespace llm {

Range split_range(int64_t n, int64_t parts, int64_t index, int64_t unit) {
  LLM_CHECK(parts > 0 && index >= 0 && index < parts && unit > 0 && n >= 0 && n % unit == 0, "split_range(", n,
            ", ", parts, ", ", index, ", unit ", unit, ")");
  int64_t units = n / unit;
  int64_t base = units / parts, extra = units % parts;
  int64_t begin = index * base + (index < extra ? index : extra);
  int64_t size = base + (index < extra ? 1 : 0);
  return Range{begin * unit, (begin + size) * unit};
}

}  // namespace llm
