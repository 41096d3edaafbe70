// Fast embedding, rms_norm, rope, silu_mul, add, gather_rows: threads over rows (or elements),
// SIMD through the table where a loop is long enough to matter. All are memory-bound.
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/fast_ops.h"
#include "backend/cpu/reference_ops.h"
#include "util/check.h"

namespace llm {
namespace {

constexpr int64_t kElementChunk = 16384;  // elements per thread-pool chunk for flat loops

}  // namespace

void fast_embedding(const CpuKernelContext& ctx, TensorView table, TensorView ids, TensorView out,
                    int64_t first_row) {
  int64_t n = ids.shape[0], rows = table.shape[0], dim = table.shape[1];
  int64_t row_bytes = dtype_row_bytes(table.dtype, dim);
  const int32_t* id = ids.as<const int32_t>();  // [n]
  float* result = out.as<float>();               // [n, dim]
  ctx.pool.parallel_for(n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      int64_t local = id[i] - first_row;
      if (local < 0 || local >= rows) {  // a row another vocab-parallel rank holds
        std::fill(result + i * dim, result + (i + 1) * dim, 0.0f);
        continue;
      }
      const auto* row = static_cast<const std::byte*>(table.data) + local * row_bytes;
      convert_row_to_f32(ctx.simd, table.dtype, row, 0, dim, result + i * dim);
    }
  });
}

void fast_rms_norm(const CpuKernelContext& ctx, TensorView x, TensorView weight, float eps, TensorView out) {
  int64_t n = x.shape[0], dim = x.shape[1];
  const float* input = x.as<const float>();  // [n, dim]
  float* result = out.as<float>();           // [n, dim], may alias input
  std::vector<float> gain(static_cast<size_t>(dim));  // [dim]: the weight vector as f32, once per call
  convert_row_to_f32(ctx.simd, weight.dtype, weight.data, 0, dim, gain.data());
  ctx.pool.parallel_for(n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* row = input + i * dim;
      float mean_square = ctx.simd.dot_f32(row, row, dim) / static_cast<float>(dim);
      float inverse_rms = 1.0f / std::sqrt(mean_square + eps);
      for (int64_t j = 0; j < dim; ++j) result[i * dim + j] = (row[j] * inverse_rms) * gain[j];
    }
  });
}

void fast_rope(const CpuKernelContext& ctx, TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout) {
  int64_t n = x.shape[0], n_heads = x.shape[1], head_dim = x.shape[2], half = head_dim / 2;
  float* data = x.as<float>();                              // [n, n_heads, head_dim]
  const int32_t* position = positions.as<const int32_t>();  // [n]
  const float* frequency = inv_freq.as<const float>();      // [head_dim / 2]
  ctx.pool.parallel_for(n, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> cosines(static_cast<size_t>(half)), sines(static_cast<size_t>(half));  // [head_dim / 2]
    for (int64_t i = begin; i < end; ++i) {
      // One row's angles are shared by all its heads.
      for (int64_t j = 0; j < half; ++j) {
        RopeRotation rotation = rope_rotation(position[i], frequency[j]);
        cosines[j] = rotation.cos;
        sines[j] = rotation.sin;
      }
      for (int64_t h = 0; h < n_heads; ++h) {
        float* head = data + (i * n_heads + h) * head_dim;
        switch (layout) {
          case RopeLayout::kInterleaved:
            for (int64_t j = 0; j < half; ++j) {
              float x0 = head[2 * j], x1 = head[2 * j + 1];
              head[2 * j] = x0 * cosines[j] - x1 * sines[j];
              head[2 * j + 1] = x0 * sines[j] + x1 * cosines[j];
            }
            break;
          case RopeLayout::kHalfSplit:
            for (int64_t j = 0; j < half; ++j) {
              float x0 = head[j], x1 = head[j + half];
              head[j] = x0 * cosines[j] - x1 * sines[j];
              head[j + half] = x0 * sines[j] + x1 * cosines[j];
            }
            break;
        }
      }
    }
  });
}

void fast_silu_mul(const CpuKernelContext& ctx, TensorView gate, TensorView up, TensorView out) {
  const float* g = gate.as<const float>();  // [n, f]
  const float* u = up.as<const float>();    // [n, f]
  float* result = out.as<float>();          // [n, f], may alias g or u
  ctx.pool.parallel_for(gate.numel(), kElementChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) result[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  });
}

void fast_add(const CpuKernelContext& ctx, TensorView a, TensorView b, TensorView out) {
  const float* left = a.as<const float>();
  const float* right = b.as<const float>();
  float* result = out.as<float>();
  ctx.pool.parallel_for(a.numel(), kElementChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) result[i] = left[i] + right[i];
  });
}

void fast_gather_rows(const CpuKernelContext& ctx, TensorView x, TensorView rows, TensorView out) {
  int64_t n = x.shape[0], d = x.shape[1], m = rows.shape[0];
  const float* input = x.as<const float>();       // [n, d]
  const int32_t* row = rows.as<const int32_t>();  // [m]
  float* result = out.as<float>();                // [m, d]
  ctx.pool.parallel_for(m, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      LLM_CHECK(row[i] >= 0 && row[i] < n, "gather_rows row ", row[i], " of entry ", i, " outside [0, ", n, ")");
      std::memcpy(result + i * d, input + row[i] * d, static_cast<size_t>(d) * sizeof(float));
    }
  });
}

}  // namespace llm
