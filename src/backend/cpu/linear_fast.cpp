// Fast linear: out [n, m] = x [n, k] @ weight [m, k]^T for every weight dtype, without ever
// making an f32 copy of the whole weight.
//
// Decode (n < kLinearTiledMinRows) is bound by memory bandwidth: threads split the output
// columns (weight rows); each weight row is streamed once and dotted with every input row while
// it sits in L1 (dense dtypes convert in registers; quantized rows go through a per-chunk f32
// scratch row).
// Prefill is bound by arithmetic: threads split the work into (panel of kPanelRows weight rows)
// x (group of kRowGroup input rows) items; each panel is converted to f32 one k-slice (kSliceColumns) at a time into scratch that stays
// in L2, then the 4 x 3 register-tiled micro-kernel sweeps the group's input rows over it, so every
// weight element is converted once per row group and reused up to kRowGroup times.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/fast_ops.h"
#include "quant/dequantize.h"
#include "util/check.h"

namespace llm {
namespace {

constexpr int64_t kPanelRows = 16 * kGemmTileCols;  // 48 weight rows per panel
constexpr int64_t kSliceColumns = 512;              // multiple of every block size (<= 256)
constexpr int64_t kDecodeMinChunk = 16;             // weight rows per thread-pool chunk at least
// Input rows per work item: bounds the x slice [kRowGroup, kSliceColumns] a panel sweeps to
// 256 KiB (L2) and gives threads work when m alone has too few panels.
constexpr int64_t kRowGroup = 32 * kGemmTileRows;

const std::byte* weight_row(const TensorView& weight, int64_t row) {
  return static_cast<const std::byte*>(weight.data) + row * dtype_row_bytes(weight.dtype, weight.shape[1]);
}

// Each output is the in-order sum of per-slice dot_slice results (the arithmetic of the tiled
// path, see simd.h), so a row's result does not depend on how many rows share the step. Weight
// rows go four at a time (independent accumulation chains) while they sit in L1.
void linear_decode(const CpuKernelContext& ctx, TensorView x, TensorView weight, TensorView out) {
  int64_t n = x.shape[0], k = x.shape[1], m = weight.shape[0];
  const float* input = x.as<const float>();  // [n, k]
  float* result = out.as<float>();           // [n, m]
  const SimdKernels& simd = ctx.simd;
  const bool converted_in_registers = weight.dtype == DType::kBF16 || weight.dtype == DType::kF16;
  ctx.pool.parallel_for((m + 3) / 4, std::max<int64_t>(1, kDecodeMinChunk / 4), [&](int64_t begin, int64_t end) {
    std::vector<float> scratch;  // [4, k], for dtypes converted through memory
    for (int64_t group = begin; group < end; ++group) {
      int64_t j0 = group * 4, rows = std::min<int64_t>(4, m - j0);
      const std::byte* raw[4];
      const float* dense[4];
      for (int64_t r = 0; r < 4; ++r) raw[r] = weight_row(weight, j0 + std::min(r, rows - 1));  // pad by repeating
      if (weight.dtype == DType::kF32) {
        for (int64_t r = 0; r < 4; ++r) dense[r] = reinterpret_cast<const float*>(raw[r]);
      } else if (!converted_in_registers) {
        scratch.resize(static_cast<size_t>(4 * k));
        for (int64_t r = 0; r < 4; ++r) {
          convert_row_to_f32(simd, weight.dtype, raw[r], 0, k, scratch.data() + r * k);
          dense[r] = scratch.data() + r * k;
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        const float* x_row = input + i * k;
        float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int64_t s = 0; s < k; s += kSliceColumns) {
          int64_t length = std::min(kSliceColumns, k - s);
          float partial[4];
          if (!converted_in_registers) {
            const float* slices[4] = {dense[0] + s, dense[1] + s, dense[2] + s, dense[3] + s};
            simd.dot_slice4(x_row + s, slices, length, partial);
          } else {
            const uint16_t* slices[4];
            for (int r = 0; r < 4; ++r) slices[r] = reinterpret_cast<const uint16_t*>(raw[r]) + s;
            if (weight.dtype == DType::kBF16) {
              simd.dot_slice4_bf16(x_row + s, slices, length, partial);
            } else {
              simd.dot_slice4_f16(x_row + s, slices, length, partial);
            }
          }
          for (int r = 0; r < 4; ++r) sums[r] += partial[r];
        }
        for (int64_t r = 0; r < rows; ++r) result[i * m + j0 + r] = sums[r];
      }
    }
  });
}

// out[i, j] for i in [0, n), j in [column_begin, column_end), accumulating over one k-slice.
// x_slice points at x[0, slice_begin] (row stride k); panel [columns, slice_length] (stride ldw).
void gemm_slice(const SimdKernels& simd, const float* x_slice, int64_t n, int64_t k, const float* panel, int64_t ldw,
                int64_t columns, int64_t slice_length, float* out_columns, int64_t m) {
  int64_t full_rows = n - n % kGemmTileRows, full_columns = columns - columns % kGemmTileCols;
  for (int64_t i = 0; i < full_rows; i += kGemmTileRows) {
    for (int64_t c = 0; c < full_columns; c += kGemmTileCols) {
      simd.gemm_tile(x_slice + i * k, k, panel + c * ldw, ldw, slice_length, out_columns + i * m + c, m);
    }
  }
  // Edges the tile does not cover: plain dots.
  for (int64_t i = 0; i < n; ++i) {
    int64_t first_column = i < full_rows ? full_columns : 0;
    for (int64_t c = first_column; c < columns; ++c) {
      out_columns[i * m + c] += simd.dot_slice(x_slice + i * k, panel + c * ldw, slice_length);
    }
  }
}

void linear_tiled(const CpuKernelContext& ctx, TensorView x, TensorView weight, TensorView out) {
  int64_t n = x.shape[0], k = x.shape[1], m = weight.shape[0];
  const float* input = x.as<const float>();  // [n, k]
  float* result = out.as<float>();           // [n, m]
  int64_t n_panels = (m + kPanelRows - 1) / kPanelRows;
  int64_t n_row_groups = (n + kRowGroup - 1) / kRowGroup;
  ctx.pool.parallel_for(n_panels * n_row_groups, 1, [&](int64_t item_begin, int64_t item_end) {
    std::vector<float> scratch;  // [kPanelRows, kSliceColumns]: converted panel slice
    for (int64_t item = item_begin; item < item_end; ++item) {
      int64_t panel = item / n_row_groups, row_group = item % n_row_groups;
      int64_t column_begin = panel * kPanelRows, columns = std::min(kPanelRows, m - column_begin);
      int64_t row_begin = row_group * kRowGroup, rows = std::min(kRowGroup, n - row_begin);
      const float* x_rows = input + row_begin * k;         // [rows, k]
      float* out_block = result + row_begin * m + column_begin;  // [rows, columns] of out, row stride m
      for (int64_t i = 0; i < rows; ++i) std::memset(out_block + i * m, 0, static_cast<size_t>(columns) * sizeof(float));
      for (int64_t slice_begin = 0; slice_begin < k; slice_begin += kSliceColumns) {
        int64_t slice_length = std::min(kSliceColumns, k - slice_begin);
        const float* panel_slice = nullptr;  // [columns, slice_length], row stride ldw
        int64_t ldw = 0;
        if (weight.dtype == DType::kF32) {  // already f32: read in place
          panel_slice = weight.as<const float>() + column_begin * k + slice_begin;
          ldw = k;
        } else {
          scratch.resize(static_cast<size_t>(kPanelRows * kSliceColumns));
          for (int64_t c = 0; c < columns; ++c) {
            convert_row_to_f32(ctx.simd, weight.dtype, weight_row(weight, column_begin + c), slice_begin, slice_length,
                               scratch.data() + c * kSliceColumns);
          }
          panel_slice = scratch.data();
          ldw = kSliceColumns;
        }
        gemm_slice(ctx.simd, x_rows + slice_begin, rows, k, panel_slice, ldw, columns, slice_length, out_block, m);
      }
    }
  });
}

}  // namespace

void convert_row_to_f32(const SimdKernels& simd, DType dtype, const void* row, int64_t first, int64_t n, float* dst) {
  const auto* bytes = static_cast<const std::byte*>(row);
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, reinterpret_cast<const float*>(bytes) + first, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kBF16: simd.bf16_to_f32(reinterpret_cast<const uint16_t*>(bytes) + first, dst, n); return;
    case DType::kF16: simd.f16_to_f32(reinterpret_cast<const uint16_t*>(bytes) + first, dst, n); return;
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: {
      const DTypeInfo& info = dtype_info(dtype);
      LLM_CHECK(first % info.block_size == 0, "convert_row_to_f32: first ", first, " not a multiple of block ",
                info.block_size);
      dequantize_row(dtype, bytes + first / info.block_size * info.block_bytes, dst, n);
      return;
    }
  }
}

void fast_linear(const CpuKernelContext& ctx, TensorView x, TensorView weight, TensorView out) {
  if (x.shape[0] < kLinearTiledMinRows) {
    linear_decode(ctx, x, weight, out);
  } else {
    linear_tiled(ctx, x, weight, out);
  }
}

}  // namespace llm
