// A paged-attention test batch: several sequences with contiguous K/V kept on the side, scattered
// into shuffled, non-contiguous cache blocks; every cache element no sequence owns (spare
// blocks, slots past a sequence's end, the spare block-table column) is NaN, so reading it
// shows up as NaN in the output. `expected` is dense causal softmax(Q K^T * scale) V computed in
// double straight from the contiguous K/V, independent of any code under test.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "cpu_test_util.h"

namespace llm::test {

struct SequenceSpec {
  int context_length;  // KV positions 0..context_length-1 are in the cache
  int n_query;         // query rows at the last n_query positions (chunked prefill / decode)
};

struct PagedScenarioOptions {
  std::vector<SequenceSpec> sequences;
  int block_size = 4;
  int n_heads = 4;
  int n_kv_heads = 2;
  int head_dim = 16;
  DType cache_dtype = DType::kF32;
  uint32_t seed = 1;
};

inline uint16_t nan_bits(DType dtype) { return dtype == DType::kF16 ? 0x7e00 : 0x7fc0; }

inline float round_to(DType dtype, float value) {
  switch (dtype) {
    case DType::kF16: return f16_to_float(float_to_f16(value));
    case DType::kBF16: return bf16_to_float(float_to_bf16(value));
    case DType::kF32:
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: return value;
  }
  return value;
}

struct PagedScenario {
  explicit PagedScenario(const PagedScenarioOptions& o)
      : options(o),
        q(DType::kF32, Shape{total_queries(o), o.n_heads, o.head_dim}),
        k_cache(o.cache_dtype, Shape{total_blocks(o), o.block_size, o.n_kv_heads, o.head_dim}),
        v_cache(o.cache_dtype, Shape{total_blocks(o), o.block_size, o.n_kv_heads, o.head_dim}),
        query_start(DType::kI32, Shape{static_cast<int64_t>(o.sequences.size()) + 1}),
        positions(DType::kI32, Shape{total_queries(o)}),
        block_tables(DType::kI32, Shape{static_cast<int64_t>(o.sequences.size()), max_blocks(o) + 1}),
        slots(DType::kI32, Shape{total_context(o)}) {
    std::mt19937 rng(o.seed);
    int64_t row_elements = static_cast<int64_t>(o.n_kv_heads) * o.head_dim;
    fill_nan(k_cache);
    fill_nan(v_cache);

    // Shuffled block ids: sequence s gets a non-contiguous set; the rest stay NaN.
    std::vector<int32_t> block_ids(static_cast<size_t>(total_blocks(o)));
    std::iota(block_ids.begin(), block_ids.end(), 0);
    std::shuffle(block_ids.begin(), block_ids.end(), rng);
    int32_t spare_block = block_ids.back();  // never owned: the spare table column points here
    size_t next_block = 0;
    int64_t table_width = block_tables.view.shape[1];

    int64_t query_row = 0, kv_row = 0;
    query_start.i32()[0] = 0;
    for (size_t s = 0; s < o.sequences.size(); ++s) {
      const SequenceSpec& spec = o.sequences[s];
      int64_t n_seq_blocks = (spec.context_length + o.block_size - 1) / o.block_size;
      for (int64_t b = 0; b < table_width; ++b) {
        block_tables.i32()[s * table_width + b] = b < n_seq_blocks ? block_ids[next_block++] : spare_block;
      }
      std::vector<float> keys_s = random_floats(spec.context_length * row_elements, rng());
      std::vector<float> values_s = random_floats(spec.context_length * row_elements, rng());
      for (auto& x : keys_s) x = round_to(o.cache_dtype, x);
      for (auto& x : values_s) x = round_to(o.cache_dtype, x);
      for (int64_t p = 0; p < spec.context_length; ++p) {
        int32_t slot = block_tables.i32()[s * table_width + p / o.block_size] * o.block_size + p % o.block_size;
        slots.i32()[kv_row++] = slot;
        for (int64_t e = 0; e < row_elements; ++e) {
          store(k_cache, slot * row_elements + e, keys_s[p * row_elements + e]);
          store(v_cache, slot * row_elements + e, values_s[p * row_elements + e]);
        }
      }
      for (int64_t r = 0; r < spec.n_query; ++r) positions.i32()[query_row++] = spec.context_length - spec.n_query + r;
      query_start.i32()[s + 1] = static_cast<int32_t>(query_row);
      keys.push_back(std::move(keys_s));
      values.push_back(std::move(values_s));
    }
    std::vector<float> q_values = random_floats(q.numel(), rng(), -2.0f, 2.0f);
    std::copy(q_values.begin(), q_values.end(), q.f32());
    compute_expected();
  }

  KvCacheView cache() { return KvCacheView{.k = k_cache.view, .v = v_cache.view}; }
  AttentionBatch batch() const {
    return AttentionBatch{.query_start = query_start.view,
                          .positions = positions.view,
                          .block_tables = block_tables.view,
                          .scale = 1.0f / std::sqrt(static_cast<float>(options.head_dim))};
  }

  PagedScenarioOptions options;
  HostTensor q;             // f32 [n, n_heads, head_dim]
  HostTensor k_cache;       // [n_blocks, block_size, n_kv_heads, head_dim]
  HostTensor v_cache;       // same
  HostTensor query_start;   // i32 [n_seqs + 1]
  HostTensor positions;     // i32 [n]
  HostTensor block_tables;  // i32 [n_seqs, max_blocks + 1]
  HostTensor slots;         // i32 [sum of context lengths]: slot of each KV row, sequence by sequence
  std::vector<std::vector<float>> keys, values;  // per sequence [context_length, n_kv_heads, head_dim]
  std::vector<float> expected;                   // [n, n_heads, head_dim]

 private:
  static int64_t total_queries(const PagedScenarioOptions& o) {
    int64_t n = 0;
    for (const auto& s : o.sequences) n += s.n_query;
    return n;
  }
  static int64_t total_context(const PagedScenarioOptions& o) {
    int64_t n = 0;
    for (const auto& s : o.sequences) n += s.context_length;
    return n;
  }
  static int64_t max_blocks(const PagedScenarioOptions& o) {
    int64_t most = 0;
    for (const auto& s : o.sequences) most = std::max<int64_t>(most, (s.context_length + o.block_size - 1) / o.block_size);
    return most;
  }
  static int64_t total_blocks(const PagedScenarioOptions& o) {
    int64_t n = 3;  // spare blocks nobody owns
    for (const auto& s : o.sequences) n += (s.context_length + o.block_size - 1) / o.block_size;
    return n;
  }
  static void fill_nan(HostTensor& t) {
    if (t.view.dtype == DType::kF32) {
      std::fill(t.f32(), t.f32() + t.numel(), std::numeric_limits<float>::quiet_NaN());
    } else {
      std::fill(t.as<uint16_t>(), t.as<uint16_t>() + t.numel(), nan_bits(t.view.dtype));
    }
  }
  static void store(HostTensor& t, int64_t index, float value) {
    switch (t.view.dtype) {
      case DType::kF16: t.as<uint16_t>()[index] = float_to_f16(value); return;
      case DType::kBF16: t.as<uint16_t>()[index] = float_to_bf16(value); return;
      case DType::kF32:
      case DType::kI32:
      case DType::kQ8_0:
      case DType::kQ4_0:
      case DType::kQ4_K:
      case DType::kQ6_K: t.f32()[index] = value; return;
    }
  }

  // Dense causal attention per (row, head) over the contiguous K/V of the row's sequence.
  void compute_expected() {
    const auto& o = options;
    int64_t group = o.n_heads / o.n_kv_heads;
    expected.assign(static_cast<size_t>(q.numel()), 0.0f);
    double scale = 1.0 / std::sqrt(static_cast<double>(static_cast<float>(o.head_dim)));
    scale = static_cast<float>(scale);
    int64_t row = 0;
    for (size_t s = 0; s < o.sequences.size(); ++s) {
      for (int r = 0; r < o.sequences[s].n_query; ++r, ++row) {
        int64_t position = positions.i32()[row];
        for (int h = 0; h < o.n_heads; ++h) {
          int64_t kv_head = h / group;
          const float* q_row = q.f32() + (row * o.n_heads + h) * o.head_dim;
          std::vector<double> weights(static_cast<size_t>(position + 1));
          double max_score = -INFINITY, total = 0.0;
          for (int64_t t = 0; t <= position; ++t) {
            const float* key = keys[s].data() + (t * o.n_kv_heads + kv_head) * o.head_dim;
            double dot = 0.0;
            for (int d = 0; d < o.head_dim; ++d) dot += static_cast<double>(q_row[d]) * key[d];
            weights[t] = dot * scale;
            max_score = std::max(max_score, weights[t]);
          }
          for (auto& w : weights) total += (w = std::exp(w - max_score));
          for (int d = 0; d < o.head_dim; ++d) {
            double sum = 0.0;
            for (int64_t t = 0; t <= position; ++t) {
              sum += weights[t] * values[s][(t * o.n_kv_heads + kv_head) * o.head_dim + d];
            }
            expected[(row * o.n_heads + h) * o.head_dim + d] = static_cast<float>(sum / total);
          }
        }
      }
    }
  }
};

}  // namespace llm::test
