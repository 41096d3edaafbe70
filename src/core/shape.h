// Tensor shapes: up to 8 dims, row-major, outermost first ([rows, columns] for a matrix,
// matching PyTorch/safetensors order; GGUF's ne[] is reversed into this order by its reader).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>

#include "util/check.h"

namespace llm {

class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {  // NOLINT(google-explicit-constructor)
    LLM_CHECK(dims.size() <= kMaxDims, "shape has ", dims.size(), " dims");
    for (int64_t dim : dims) dims_[rank_++] = dim;
  }

  int rank() const { return rank_; }
  int64_t operator[](int index) const {
    LLM_CHECK(index >= 0 && index < rank_, "dim ", index, " of a rank-", rank_, " shape");
    return dims_[index];
  }
  int64_t& operator[](int index) {
    LLM_CHECK(index >= 0 && index < rank_, "dim ", index, " of a rank-", rank_, " shape");
    return dims_[index];
  }
  void push_back(int64_t dim) {
    LLM_CHECK(rank_ < kMaxDims, "shape already has ", kMaxDims, " dims");
    dims_[rank_++] = dim;
  }
  // Product of all dims (1 for a scalar). Callers validate overflow when dims come from files.
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  bool operator==(const Shape& other) const {
    if (rank_ != other.rank_) return false;
    for (int i = 0; i < rank_; ++i) {
      if (dims_[i] != other.dims_[i]) return false;
    }
    return true;
  }
  bool operator!=(const Shape& other) const { return !(*this == other); }

  // "[4096, 1024]"
  std::string to_string() const {
    std::string text = "[";
    for (int i = 0; i < rank_; ++i) text += (i ? ", " : "") + std::to_string(dims_[i]);
    return text + "]";
  }

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int rank_ = 0;
};

inline std::ostream& operator<<(std::ostream& out, const Shape& shape) { return out << shape.to_string(); }

}  // namespace llm
