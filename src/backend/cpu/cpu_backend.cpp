// CpuBackend glue: memory, and each op routed to its reference or fast kernel.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <span>

#include "backend/cpu/fast_ops.h"
#include "backend/cpu/reference_ops.h"
#include "backend/cpu/simd.h"
#include "backend/sampling.h"
#include "core/half.h"
#include "util/str.h"

namespace llm {
namespace {

// 64 bytes: a cache line, and the widest SIMD load (AVX-512) stays within one.
constexpr size_t kAlignment = 64;

// Rows [begin, end) of the sample op. logits f32 [n, vocab]; params i32 [n, 6]; out i32 [n].
void sample_rows(TensorView logits, TensorView params, TensorView out, int64_t begin, int64_t end) {
  const int64_t vocab = logits.shape[1];
  for (int64_t row = begin; row < end; ++row) {
    TokenSampling row_params;  // memcpy: the i32 buffer need not be aligned for the double
    std::memcpy(static_cast<void*>(&row_params), params.as<const int32_t>() + row * kTokenSamplingWords,
                sizeof(row_params));
    std::span<const float> row_logits(logits.as<const float>() + row * vocab, static_cast<size_t>(vocab));
    out.as<int32_t>()[row] = pick_token(row_logits, row_params);
  }
}

// Rows [row_begin, row_end) of out (1-D: one row).
void fill_synthetic_rows(TensorView out, const SyntheticFill& fill, int64_t row_begin, int64_t row_end) {
  const int64_t columns = out.shape[out.shape.rank() - 1];
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t first = (fill.row0 + r) * fill.columns + fill.col0;
    for (int64_t c = 0; c < columns; ++c) {
      const float value = synthetic_value(fill, first + c);
      const int64_t i = r * columns + c;
      switch (out.dtype) {
        case DType::kF32: out.as<float>()[i] = value; break;
        case DType::kF16: out.as<uint16_t>()[i] = float_to_f16(value); break;
        case DType::kBF16: out.as<uint16_t>()[i] = float_to_bf16(value); break;
        case DType::kI32:
        case DType::kQ8_0:
        case DType::kQ4_0:
        case DType::kQ4_K:
        case DType::kQ6_K: LLM_CHECK(false, "fill_synthetic: ", dtype_name(out.dtype));
      }
    }
  }
}

}  // namespace

CpuBackend::CpuBackend(CpuBackendOptions options)
    : options_(options),
      pool_(std::make_unique<ThreadPool>(options.reference ? 1 : std::max(1, options.n_threads))),
      simd_(&best_simd_kernels()) {}

CpuBackend::~CpuBackend() = default;

std::string CpuBackend::name() const {
  if (options_.reference) return "cpu-reference";
  return str("cpu (", pool_->n_threads(), " threads, ", simd_->name, ")");
}

Result<Buffer> CpuBackend::allocate(int64_t bytes) {
  if (bytes < 0) return make_error(ErrorCode::kInvalidArgument, str("allocate: negative size ", bytes));
  // aligned_alloc wants a multiple of the alignment; never 0 bytes, so an empty buffer is still
  // a valid pointer.
  size_t rounded = (static_cast<size_t>(bytes) + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* data = std::aligned_alloc(kAlignment, rounded);
  if (data == nullptr) {
    return make_error(ErrorCode::kOutOfMemory, str("cpu: cannot allocate ", bytes, " bytes of host memory"));
  }
  return Buffer(data, bytes, [](void* pointer) { std::free(pointer); });
}

// Empty copies happen (a step with no logits to return); memcpy must not see their null pointers.
void CpuBackend::copy_from_host(TensorView dst, const void* src) {
  if (dst.bytes() > 0) std::memcpy(dst.data, src, static_cast<size_t>(dst.bytes()));
}

void CpuBackend::copy_to_host(void* dst, TensorView src) {
  if (src.bytes() > 0) std::memcpy(dst, src.data, static_cast<size_t>(src.bytes()));
}

void CpuBackend::do_embedding(TensorView table, TensorView ids, TensorView out, int64_t first_row) {
  if (options_.reference) return reference_embedding(table, ids, out, first_row);
  fast_embedding({*pool_, *simd_}, table, ids, out, first_row);
}

void CpuBackend::do_rms_norm(TensorView x, TensorView weight, float eps, TensorView out) {
  LLM_CHECK(out.dtype == DType::kF32, name(), ": rms_norm out of ", dtype_name(out.dtype),
            " (operand_dtype is f32 here)");
  if (options_.reference) return reference_rms_norm(x, weight, eps, out);
  fast_rms_norm({*pool_, *simd_}, x, weight, eps, out);
}

void CpuBackend::do_linear(TensorView x, TensorView weight, TensorView out) {
  if (options_.reference) return reference_linear(x, weight, out);
  fast_linear({*pool_, *simd_}, x, weight, out);
}

void CpuBackend::do_rope(TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout) {
  if (options_.reference) return reference_rope(x, positions, inv_freq, layout);
  fast_rope({*pool_, *simd_}, x, positions, inv_freq, layout);
}

void CpuBackend::do_kv_write(TensorView k, TensorView v, KvCacheView cache, TensorView slots) {
  if (options_.reference) return reference_kv_write(k, v, cache, slots);
  fast_kv_write({*pool_, *simd_}, k, v, cache, slots);
}

void CpuBackend::do_paged_attention(TensorView q, KvCacheView cache, const AttentionBatch& batch, TensorView out) {
  if (options_.reference) return reference_paged_attention(q, cache, batch, out);
  fast_paged_attention({*pool_, *simd_}, q, cache, batch, out);
}

void CpuBackend::do_silu_mul(TensorView gate, TensorView up, TensorView out) {
  if (options_.reference) return reference_silu_mul(gate, up, out);
  fast_silu_mul({*pool_, *simd_}, gate, up, out);
}

void CpuBackend::do_add(TensorView a, TensorView b, TensorView out) {
  if (options_.reference) return reference_add(a, b, out);
  fast_add({*pool_, *simd_}, a, b, out);
}

void CpuBackend::do_gather_rows(TensorView x, TensorView rows, TensorView out) {
  if (options_.reference) return reference_gather_rows(x, rows, out);
  fast_gather_rows({*pool_, *simd_}, x, rows, out);
}

// Host memory is the device's: made in place, rows spread over the threads.
void CpuBackend::do_fill_synthetic(TensorView out, const SyntheticFill& fill) {
  const int64_t rows = out.shape.rank() == 2 ? out.shape[0] : 1;
  pool_->parallel_for(rows, 1, [&](int64_t begin, int64_t end) { fill_synthetic_rows(out, fill, begin, end); });
}

// Both variants run the reference pick (a sort per row); the fast one spreads rows over threads.
void CpuBackend::do_sample(TensorView logits, TensorView params, TensorView out) {
  const int64_t n = logits.shape[0];
  if (options_.reference) return sample_rows(logits, params, out, 0, n);
  pool_->parallel_for(n, 1, [&](int64_t begin, int64_t end) { sample_rows(logits, params, out, begin, end); });
}

}  // namespace llm
