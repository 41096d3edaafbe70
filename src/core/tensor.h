// TensorView: a non-owning, contiguous, row-major view of device or host memory.
// Which device the pointer belongs to is known by the Backend that made it; model code never
// dereferences `data` itself.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/shape.h"

namespace llm {

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kF32;
  Shape shape;

  int64_t numel() const { return shape.numel(); }
  // Bytes of the whole tensor; the last dim must be a whole number of blocks.
  int64_t bytes() const {
    if (shape.rank() == 0) return dtype_info(dtype).block_bytes;
    if (numel() == 0) return 0;
    return dtype_row_bytes(dtype, shape[shape.rank() - 1]) * (numel() / shape[shape.rank() - 1]);
  }
  template <class T>
  T* as() const { return static_cast<T*>(data); }

  // Rows [begin, end) of the outermost dim, same dtype.
  TensorView rows(int64_t begin, int64_t end) const {
    LLM_CHECK(shape.rank() >= 1 && begin >= 0 && begin <= end && end <= shape[0], "rows [", begin, ", ", end,
              ") of ", shape);
    TensorView view = *this;
    int64_t row_bytes = shape[0] == 0 ? 0 : bytes() / shape[0];
    view.data = static_cast<std::byte*>(data) + begin * row_bytes;
    view.shape[0] = end - begin;
    return view;
  }
  // Same bytes, another shape with the same element count.
  TensorView reshape(Shape new_shape) const {
    LLM_CHECK(new_shape.numel() == numel(), "reshape ", shape, " -> ", new_shape);
    TensorView view = *this;
    view.shape = new_shape;
    return view;
  }
};

}  // namespace llm
