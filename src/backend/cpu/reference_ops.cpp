#include "backend/cpu/reference_ops.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/half.h"
#include "quant/dequantize.h"
#include "util/check.h"

namespace llm {
namespace {

// Element `index` of a dense f32 / f16 / bf16 tensor.
float dense_at(const TensorView& t, int64_t index) {
  switch (t.dtype) {
    case DType::kF32: return t.as<const float>()[index];
    case DType::kF16: return f16_to_float(t.as<const uint16_t>()[index]);
    case DType::kBF16: return bf16_to_float(t.as<const uint16_t>()[index]);
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: break;
  }
  LLM_CHECK(false, "dense_at: dtype ", dtype_name(t.dtype), " is not a dense float type");
}

void store_dense(const TensorView& t, int64_t index, float value) {
  switch (t.dtype) {
    case DType::kF32: t.as<float>()[index] = value; return;
    case DType::kF16: t.as<uint16_t>()[index] = float_to_f16(value); return;
    case DType::kBF16: t.as<uint16_t>()[index] = float_to_bf16(value); return;
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: break;
  }
  LLM_CHECK(false, "store_dense: dtype ", dtype_name(t.dtype), " is not a dense float type");
}

// Row `row` of a [rows, columns] tensor of any dtype, as f32.
std::vector<float> row_as_f32(const TensorView& t, int64_t row) {
  int64_t columns = t.shape[1];
  std::vector<float> values(static_cast<size_t>(columns));
  const auto* bytes = static_cast<const std::byte*>(t.data) + row * dtype_row_bytes(t.dtype, columns);
  dequantize_row(t.dtype, bytes, values.data(), columns);
  return values;
}

}  // namespace

RopeRotation rope_rotation(int32_t position, float inv_freq) {
  float angle = static_cast<float>(position) * inv_freq;  // f32, as torch computes freqs
  return RopeRotation{.cos = static_cast<float>(std::cos(static_cast<double>(angle))),
                      .sin = static_cast<float>(std::sin(static_cast<double>(angle)))};
}

int64_t sequence_of_row(const int32_t* query_start, int64_t n_seqs, int64_t row) {
  int64_t low = 0, high = n_seqs;  // invariant: query_start[low] <= row < query_start[high]
  LLM_CHECK(row >= query_start[0] && row < query_start[n_seqs], "query row ", row, " outside [", query_start[0], ", ",
            query_start[n_seqs], ")");
  while (high - low > 1) {
    int64_t middle = (low + high) / 2;
    if (query_start[middle] <= row) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return low;
}

void reference_embedding(TensorView table, TensorView ids, TensorView out, int64_t first_row) {
  int64_t n = ids.shape[0], rows = table.shape[0], dim = table.shape[1];
  const int32_t* id = ids.as<const int32_t>();  // [n]
  float* result = out.as<float>();               // [n, dim]
  for (int64_t i = 0; i < n; ++i) {
    int64_t local = id[i] - first_row;
    if (local < 0 || local >= rows) {  // a row another vocab-parallel rank holds
      for (int64_t j = 0; j < dim; ++j) result[i * dim + j] = 0.0f;
      continue;
    }
    std::vector<float> row = row_as_f32(table, local);
    for (int64_t j = 0; j < dim; ++j) result[i * dim + j] = row[j];
  }
}

void reference_rms_norm(TensorView x, TensorView weight, float eps, TensorView out) {
  int64_t n = x.shape[0], dim = x.shape[1];
  const float* input = x.as<const float>();  // [n, dim]
  float* result = out.as<float>();           // [n, dim], may alias input: each row is read fully first
  for (int64_t i = 0; i < n; ++i) {
    double sum_squares = 0.0;
    for (int64_t j = 0; j < dim; ++j) sum_squares += static_cast<double>(input[i * dim + j]) * input[i * dim + j];
    double inverse_rms = 1.0 / std::sqrt(sum_squares / static_cast<double>(dim) + static_cast<double>(eps));
    for (int64_t j = 0; j < dim; ++j) {
      // transformers: weight * (x * rsqrt(var + eps)), the normalised value rounded to f32 first.
      float normalised = static_cast<float>(input[i * dim + j] * inverse_rms);
      result[i * dim + j] = normalised * dense_at(weight, j);
    }
  }
}

void reference_linear(TensorView x, TensorView weight, TensorView out) {
  int64_t n = x.shape[0], k = x.shape[1], m = weight.shape[0];
  const float* input = x.as<const float>();  // [n, k]
  float* result = out.as<float>();           // [n, m]
  for (int64_t j = 0; j < m; ++j) {
    std::vector<float> weight_row = row_as_f32(weight, j);  // [k]
    for (int64_t i = 0; i < n; ++i) {
      double sum = 0.0;
      for (int64_t c = 0; c < k; ++c) sum += static_cast<double>(input[i * k + c]) * weight_row[c];
      result[i * m + j] = static_cast<float>(sum);
    }
  }
}

void reference_rope(TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout) {
  int64_t n = x.shape[0], n_heads = x.shape[1], head_dim = x.shape[2], half = head_dim / 2;
  float* data = x.as<float>();                        // [n, n_heads, head_dim]
  const int32_t* position = positions.as<const int32_t>();  // [n]
  const float* frequency = inv_freq.as<const float>();      // [head_dim / 2]
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t h = 0; h < n_heads; ++h) {
      float* head = data + (i * n_heads + h) * head_dim;
      for (int64_t j = 0; j < half; ++j) {
        int64_t first = 0, second = 0;
        switch (layout) {
          case RopeLayout::kInterleaved: first = 2 * j, second = 2 * j + 1; break;
          case RopeLayout::kHalfSplit: first = j, second = j + half; break;
        }
        RopeRotation rotation = rope_rotation(position[i], frequency[j]);
        double x0 = head[first], x1 = head[second];
        head[first] = static_cast<float>(x0 * rotation.cos - x1 * rotation.sin);
        head[second] = static_cast<float>(x0 * rotation.sin + x1 * rotation.cos);
      }
    }
  }
}

void reference_kv_write(TensorView k, TensorView v, KvCacheView cache, TensorView slots) {
  int64_t n = k.shape[0], row_elements = k.shape[1] * k.shape[2];  // n_kv_heads * head_dim
  int64_t n_slots = cache.k.shape[0] * cache.k.shape[1];             // n_blocks * block_size
  const int32_t* slot = slots.as<const int32_t>();                   // [n]
  const float* keys = k.as<const float>();                           // [n, n_kv_heads, head_dim]
  const float* values = v.as<const float>();                         // [n, n_kv_heads, head_dim]
  for (int64_t i = 0; i < n; ++i) {
    LLM_CHECK(slot[i] >= 0 && slot[i] < n_slots, "kv_write slot ", slot[i], " of row ", i, " outside [0, ", n_slots,
              ")");
    for (int64_t e = 0; e < row_elements; ++e) {
      store_dense(cache.k, slot[i] * row_elements + e, keys[i * row_elements + e]);
      store_dense(cache.v, slot[i] * row_elements + e, values[i * row_elements + e]);
    }
  }
}

void reference_paged_attention(TensorView q, KvCacheView cache, const AttentionBatch& batch, TensorView out) {
  int64_t n = q.shape[0], n_heads = q.shape[1], head_dim = q.shape[2];
  int64_t n_blocks = cache.k.shape[0], block_size = cache.k.shape[1], n_kv_heads = cache.k.shape[2];
  int64_t n_seqs = batch.block_tables.shape[0], max_blocks = batch.block_tables.shape[1];
  int64_t heads_per_kv_head = n_heads / n_kv_heads;
  const float* query = q.as<const float>();                              // [n, n_heads, head_dim]
  const int32_t* query_start = batch.query_start.as<const int32_t>();    // [n_seqs + 1]
  const int32_t* positions = batch.positions.as<const int32_t>();        // [n]
  const int32_t* block_tables = batch.block_tables.as<const int32_t>();  // [n_seqs, max_blocks]
  float* result = out.as<float>();                                       // [n, n_heads, head_dim]

  // Element index of (position p of sequence s, kv head, dim 0) in the cache.
  auto cache_index = [&](int64_t s, int64_t p, int64_t kv_head) {
    LLM_CHECK(p / block_size < max_blocks, "position ", p, " needs block ", p / block_size, ", table has ", max_blocks);
    int64_t block = block_tables[s * max_blocks + p / block_size];
    LLM_CHECK(block >= 0 && block < n_blocks, "block id ", block, " outside [0, ", n_blocks, ")");
    return ((block * block_size + p % block_size) * n_kv_heads + kv_head) * head_dim;
  };

  for (int64_t i = 0; i < n; ++i) {
    int64_t s = sequence_of_row(query_start, n_seqs, i);
    int64_t n_context = static_cast<int64_t>(positions[i]) + 1;  // causal: positions 0..positions[i]
    LLM_CHECK(positions[i] >= 0, "attention position ", positions[i], " of row ", i);
    for (int64_t h = 0; h < n_heads; ++h) {
      int64_t kv_head = h / heads_per_kv_head;
      const float* q_row = query + (i * n_heads + h) * head_dim;
      std::vector<double> scores(static_cast<size_t>(n_context));
      double max_score = -std::numeric_limits<double>::infinity();
      for (int64_t p = 0; p < n_context; ++p) {
        int64_t base = cache_index(s, p, kv_head);
        double dot = 0.0;
        for (int64_t d = 0; d < head_dim; ++d) dot += static_cast<double>(q_row[d]) * dense_at(cache.k, base + d);
        scores[p] = dot * batch.scale;
        max_score = std::max(max_score, scores[p]);
      }
      double denominator = 0.0;
      for (int64_t p = 0; p < n_context; ++p) {
        scores[p] = std::exp(scores[p] - max_score);
        denominator += scores[p];
      }
      for (int64_t d = 0; d < head_dim; ++d) {
        double sum = 0.0;
        for (int64_t p = 0; p < n_context; ++p) sum += scores[p] * dense_at(cache.v, cache_index(s, p, kv_head) + d);
        result[(i * n_heads + h) * head_dim + d] = static_cast<float>(sum / denominator);
      }
    }
  }
}

void reference_silu_mul(TensorView gate, TensorView up, TensorView out) {
  int64_t count = gate.numel();
  const float* g = gate.as<const float>();  // [n, f]
  const float* u = up.as<const float>();    // [n, f]
  float* result = out.as<float>();          // [n, f], may alias g or u (element i read before written)
  for (int64_t i = 0; i < count; ++i) {
    double silu = g[i] / (1.0 + std::exp(-static_cast<double>(g[i])));
    result[i] = static_cast<float>(silu * u[i]);
  }
}

void reference_add(TensorView a, TensorView b, TensorView out) {
  int64_t count = a.numel();
  const float* left = a.as<const float>();
  const float* right = b.as<const float>();
  float* result = out.as<float>();
  for (int64_t i = 0; i < count; ++i) result[i] = left[i] + right[i];
}

void reference_gather_rows(TensorView x, TensorView rows, TensorView out) {
  int64_t n = x.shape[0], d = x.shape[1], m = rows.shape[0];
  const float* input = x.as<const float>();    // [n, d]
  const int32_t* row = rows.as<const int32_t>();  // [m]
  float* result = out.as<float>();             // [m, d]
  for (int64_t i = 0; i < m; ++i) {
    LLM_CHECK(row[i] >= 0 && row[i] < n, "gather_rows row ", row[i], " of entry ", i, " outside [0, ", n, ")");
    for (int64_t j = 0; j < d; ++j) result[i * d + j] = input[row[i] * d + j];
  }
}

}  // namespace llm
