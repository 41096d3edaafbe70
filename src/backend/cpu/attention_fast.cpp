// Fast kv_write and paged_attention.
//
// Attention work items are (query row, kv head): the query heads that share a KV head (GQA)
// are done together so each K/V row is read (and converted from f16/bf16) once per group, not
// once per query head. Each item runs an online softmax over its causal context in chunks of
// kScoreChunk positions: scores of a chunk, one rescale of the running output per chunk, then
// the weighted V rows.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backend/cpu/fast_ops.h"
#include "backend/cpu/reference_ops.h"
#include "core/half.h"
#include "util/check.h"

namespace llm {
namespace {

constexpr int64_t kScoreChunk = 32;

// One cache row (n_kv_heads * head_dim elements for one slot) converted from f32 on write.
void store_row(DType dtype, void* cache_row, const float* src, int64_t count) {
  switch (dtype) {
    case DType::kF32: std::memcpy(cache_row, src, static_cast<size_t>(count) * sizeof(float)); return;
    case DType::kF16: {
      auto* dst = static_cast<uint16_t*>(cache_row);
      for (int64_t e = 0; e < count; ++e) dst[e] = float_to_f16(src[e]);
      return;
    }
    case DType::kBF16: {
      auto* dst = static_cast<uint16_t*>(cache_row);
      for (int64_t e = 0; e < count; ++e) dst[e] = float_to_bf16(src[e]);
      return;
    }
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: break;
  }
  LLM_CHECK(false, "kv cache dtype ", dtype_name(dtype), " is not f32, f16 or bf16");
}

// A K or V head row of the cache as f32: the row itself when the cache is f32, else converted
// into `scratch` [head_dim].
const float* head_row_f32(const SimdKernels& simd, const TensorView& cache, int64_t element, int64_t head_dim,
                          float* scratch) {
  switch (cache.dtype) {
    case DType::kF32: return cache.as<const float>() + element;
    case DType::kF16: simd.f16_to_f32(cache.as<const uint16_t>() + element, scratch, head_dim); return scratch;
    case DType::kBF16: simd.bf16_to_f32(cache.as<const uint16_t>() + element, scratch, head_dim); return scratch;
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: break;
  }
  LLM_CHECK(false, "kv cache dtype ", dtype_name(cache.dtype), " is not f32, f16 or bf16");
}

}  // namespace

void fast_kv_write(const CpuKernelContext& ctx, TensorView k, TensorView v, KvCacheView cache, TensorView slots) {
  int64_t n = k.shape[0], row_elements = k.shape[1] * k.shape[2];  // n_kv_heads * head_dim
  int64_t n_slots = cache.k.shape[0] * cache.k.shape[1];             // n_blocks * block_size
  int64_t element_bytes = dtype_info(cache.k.dtype).block_bytes;
  const int32_t* slot = slots.as<const int32_t>();  // [n]
  const float* keys = k.as<const float>();          // [n, n_kv_heads, head_dim]
  const float* values = v.as<const float>();        // [n, n_kv_heads, head_dim]
  auto* key_cache = static_cast<std::byte*>(cache.k.data);    // [n_slots, n_kv_heads, head_dim]
  auto* value_cache = static_cast<std::byte*>(cache.v.data);  // [n_slots, n_kv_heads, head_dim]
  ctx.pool.parallel_for(n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      LLM_CHECK(slot[i] >= 0 && slot[i] < n_slots, "kv_write slot ", slot[i], " of row ", i, " outside [0, ", n_slots,
                ")");
      int64_t offset = slot[i] * row_elements * element_bytes;
      store_row(cache.k.dtype, key_cache + offset, keys + i * row_elements, row_elements);
      store_row(cache.v.dtype, value_cache + offset, values + i * row_elements, row_elements);
    }
  });
}

void fast_paged_attention(const CpuKernelContext& ctx, TensorView q, KvCacheView cache, const AttentionBatch& batch,
                          TensorView out) {
  int64_t n = q.shape[0], n_heads = q.shape[1], head_dim = q.shape[2];
  int64_t n_blocks = cache.k.shape[0], block_size = cache.k.shape[1], n_kv_heads = cache.k.shape[2];
  int64_t n_seqs = batch.block_tables.shape[0], max_blocks = batch.block_tables.shape[1];
  int64_t group = n_heads / n_kv_heads;  // query heads per kv head
  const float* query = q.as<const float>();                              // [n, n_heads, head_dim]
  const int32_t* query_start = batch.query_start.as<const int32_t>();    // [n_seqs + 1]
  const int32_t* positions = batch.positions.as<const int32_t>();        // [n]
  const int32_t* block_tables = batch.block_tables.as<const int32_t>();  // [n_seqs, max_blocks]
  float* result = out.as<float>();                                       // [n, n_heads, head_dim]
  const SimdKernels& simd = ctx.simd;
  float scale = batch.scale;

  ctx.pool.parallel_for(n * n_kv_heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(group * kScoreChunk));  // [group, kScoreChunk]
    std::vector<float> row_scratch(static_cast<size_t>(head_dim));        // [head_dim]
    std::vector<float> running_max(static_cast<size_t>(group));           // [group]
    std::vector<float> running_sum(static_cast<size_t>(group));           // [group]
    std::vector<int64_t> chunk_rows(kScoreChunk);  // element index of (slot, kv_head, 0) per chunk position
    for (int64_t item = begin; item < end; ++item) {
      int64_t i = item / n_kv_heads, kv_head = item % n_kv_heads;
      int64_t s = sequence_of_row(query_start, n_seqs, i);
      LLM_CHECK(positions[i] >= 0, "attention position ", positions[i], " of row ", i);
      int64_t n_context = static_cast<int64_t>(positions[i]) + 1;  // causal: positions 0..positions[i]
      LLM_CHECK((n_context + block_size - 1) / block_size <= max_blocks, "position ", positions[i], " needs ",
                (n_context + block_size - 1) / block_size, " blocks, table has ", max_blocks);
      const float* q_group = query + (i * n_heads + kv_head * group) * head_dim;  // [group, head_dim]
      float* out_group = result + (i * n_heads + kv_head * group) * head_dim;     // [group, head_dim]
      std::memset(out_group, 0, static_cast<size_t>(group * head_dim) * sizeof(float));
      std::fill(running_max.begin(), running_max.end(), -std::numeric_limits<float>::infinity());
      std::fill(running_sum.begin(), running_sum.end(), 0.0f);

      for (int64_t chunk_begin = 0; chunk_begin < n_context; chunk_begin += kScoreChunk) {
        int64_t chunk_length = std::min(kScoreChunk, n_context - chunk_begin);
        for (int64_t t = 0; t < chunk_length; ++t) {
          int64_t p = chunk_begin + t;
          int64_t block = block_tables[s * max_blocks + p / block_size];
          LLM_CHECK(block >= 0 && block < n_blocks, "block id ", block, " outside [0, ", n_blocks, ")");
          chunk_rows[t] = ((block * block_size + p % block_size) * n_kv_heads + kv_head) * head_dim;
          const float* key = head_row_f32(simd, cache.k, chunk_rows[t], head_dim, row_scratch.data());
          for (int64_t g = 0; g < group; ++g) {
            scores[g * kScoreChunk + t] = simd.dot_f32(q_group + g * head_dim, key, head_dim) * scale;
          }
        }
        // Rescale what was accumulated so far to the new running maximum.
        for (int64_t g = 0; g < group; ++g) {
          float* chunk_scores = scores.data() + g * kScoreChunk;
          float new_max = std::max(running_max[g], *std::max_element(chunk_scores, chunk_scores + chunk_length));
          float correction = std::exp(running_max[g] - new_max);  // 0 on the first chunk (-inf)
          running_sum[g] *= correction;
          simd.scale(correction, out_group + g * head_dim, head_dim);
          running_max[g] = new_max;
          for (int64_t t = 0; t < chunk_length; ++t) {
            chunk_scores[t] = std::exp(chunk_scores[t] - new_max);
            running_sum[g] += chunk_scores[t];
          }
        }
        for (int64_t t = 0; t < chunk_length; ++t) {
          const float* value = head_row_f32(simd, cache.v, chunk_rows[t], head_dim, row_scratch.data());
          for (int64_t g = 0; g < group; ++g) {
            simd.axpy(scores[g * kScoreChunk + t], value, out_group + g * head_dim, head_dim);
          }
        }
      }
      for (int64_t g = 0; g < group; ++g) simd.scale(1.0f / running_sum[g], out_group + g * head_dim, head_dim);
    }
  });
}

}  // namespace llm
