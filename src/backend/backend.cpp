#include "backend/backend.h"

#include <limits>

#include "backend/sampling.h"
#include "util/check.h"

namespace llm {
namespace {

void check_f32(const TensorView& t, const char* what, int rank) {
  LLM_CHECK(t.dtype == DType::kF32, what, ": expected f32, got ", dtype_name(t.dtype));
  LLM_CHECK(t.shape.rank() == rank, what, ": expected rank ", rank, ", got shape ", t.shape);
}

void check_i32(const TensorView& t, const char* what, int rank) {
  LLM_CHECK(t.dtype == DType::kI32, what, ": expected i32, got ", dtype_name(t.dtype));
  LLM_CHECK(t.shape.rank() == rank, what, ": expected rank ", rank, ", got shape ", t.shape);
}

bool is_dense_float(DType dtype) { return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16; }

}  // namespace

TensorView Buffer::view(DType dtype, Shape shape) const {
  TensorView view{data_, dtype, shape};
  LLM_CHECK(view.bytes() <= bytes_, "view ", dtype_name(dtype), " ", shape, " needs ", view.bytes(),
            " bytes, buffer has ", bytes_);
  return view;
}

void Backend::embedding(TensorView table, TensorView ids, TensorView out, int64_t first_row) {
  LLM_CHECK(table.shape.rank() == 2, "embedding table: expected rank 2, got ", table.shape);
  check_i32(ids, "embedding ids", 1);
  check_f32(out, "embedding out", 2);
  LLM_CHECK(out.shape[0] == ids.shape[0] && out.shape[1] == table.shape[1], "embedding out: expected [", ids.shape[0],
            ", ", table.shape[1], "], got ", out.shape);
  LLM_CHECK(first_row >= 0, "embedding first_row ", first_row);
  do_embedding(table, ids, out, first_row);
}

namespace {

// An activation that is f32, or the half type this device rounds to for products with such weights.
void check_operand(const Backend& backend, const TensorView& x, DType weight_dtype, const char* what) {
  LLM_CHECK(x.dtype == DType::kF32 || x.dtype == backend.operand_dtype(x.shape[0], weight_dtype), what, ": dtype ", dtype_name(x.dtype), " (f32, or the device's operand type for ", x.shape[0], " rows)");
  LLM_CHECK(x.shape.rank() == 2, what, ": expected 2 dims, got ", x.shape);
}

}  // namespace

void Backend::rms_norm(TensorView x, TensorView weight, float eps, TensorView out) {
  check_f32(x, "rms_norm x", 2);
  LLM_CHECK(is_dense_float(out.dtype), "rms_norm out: dtype ", dtype_name(out.dtype));
  LLM_CHECK(x.shape == out.shape, "rms_norm: x ", x.shape, " vs out ", out.shape);
  LLM_CHECK(is_dense_float(weight.dtype), "rms_norm weight: dtype ", dtype_name(weight.dtype));
  LLM_CHECK(weight.shape.rank() == 1 && weight.shape[0] == x.shape[1], "rms_norm weight: expected [", x.shape[1],
            "], got ", weight.shape);
  do_rms_norm(x, weight, eps, out);
}

void Backend::add_rms_norm(TensorView x, TensorView residual, TensorView weight, float eps, TensorView out) {
  check_f32(residual, "add_rms_norm residual", 2);
  LLM_CHECK(residual.shape == x.shape, "add_rms_norm: x ", x.shape, " vs residual ", residual.shape);
  LLM_CHECK(out.data != x.data || x.numel() == 0, "add_rms_norm: out must not alias x");
  // The rms_norm checks cover x, weight and out.
  check_f32(x, "add_rms_norm x", 2);
  LLM_CHECK(is_dense_float(out.dtype), "add_rms_norm out: dtype ", dtype_name(out.dtype));
  LLM_CHECK(x.shape == out.shape, "add_rms_norm: x ", x.shape, " vs out ", out.shape);
  LLM_CHECK(is_dense_float(weight.dtype), "add_rms_norm weight: dtype ", dtype_name(weight.dtype));
  LLM_CHECK(weight.shape.rank() == 1 && weight.shape[0] == x.shape[1], "add_rms_norm weight: expected [",
            x.shape[1], "], got ", weight.shape);
  do_add_rms_norm(x, residual, weight, eps, out);
}

void Backend::linear(TensorView x, TensorView weight, TensorView out) {
  check_f32(x, "linear x", 2);
  check_f32(out, "linear out", 2);
  LLM_CHECK(weight.shape.rank() == 2, "linear weight: expected rank 2, got ", weight.shape);
  LLM_CHECK(weight.shape[1] == x.shape[1], "linear: weight ", weight.shape, " does not take x ", x.shape);
  LLM_CHECK(out.shape[0] == x.shape[0] && out.shape[1] == weight.shape[0], "linear out: expected [", x.shape[0], ", ",
            weight.shape[0], "], got ", out.shape);
  LLM_CHECK(x.data != out.data || x.numel() == 0, "linear: out must not alias x");
  do_linear(x, weight, out);
}

void Backend::qkv_projection(TensorView x, const QkvWeights& w, TensorView q, TensorView k, TensorView v) {
  check_operand(*this, x, w.wq.dtype, "qkv_projection x");
  LLM_CHECK(x.dtype == DType::kF32 || (w.wk.dtype == x.dtype && w.wv.dtype == x.dtype),
            "qkv_projection: a ", dtype_name(x.dtype), " x takes weights of that type");
  const std::pair<const TensorView*, const TensorView*> products[] = {{&w.wq, &q}, {&w.wk, &k}, {&w.wv, &v}};
  for (const auto& [weight, out] : products) {
    check_f32(*out, "qkv_projection out", 2);
    LLM_CHECK(weight->shape.rank() == 2 && weight->shape[1] == x.shape[1], "qkv_projection: weight ", weight->shape,
              " does not take x ", x.shape);
    LLM_CHECK(out->shape[0] == x.shape[0] && out->shape[1] == weight->shape[0], "qkv_projection out: expected [",
              x.shape[0], ", ", weight->shape[0], "], got ", out->shape);
  }
  if (w.stacked.data != nullptr) {
    LLM_CHECK(w.stacked.data == w.wq.data && w.stacked.dtype == w.wq.dtype &&
                  w.stacked.shape == Shape({w.wq.shape[0] + w.wk.shape[0] + w.wv.shape[0], x.shape[1]}),
              "qkv_projection: stacked weight ", w.stacked.shape, " is not wq|wk|wv");
  }
  do_qkv_projection(x, w, q, k, v);
}

void Backend::feed_forward(TensorView x, const FeedForwardWeights& w, TensorView gate, TensorView up, TensorView out) {
  check_operand(*this, x, w.w1.dtype, "feed_forward x");
  LLM_CHECK(x.dtype == DType::kF32 || (w.w3.dtype == x.dtype && w.w2.dtype == x.dtype),
            "feed_forward: a ", dtype_name(x.dtype), " x takes weights of that type");
  check_f32(out, "feed_forward out", 2);
  check_f32(gate, "feed_forward gate", 2);
  check_f32(up, "feed_forward up", 2);
  const int64_t n = x.shape[0], dim = x.shape[1], ffn = w.w1.shape.rank() == 2 ? w.w1.shape[0] : -1;
  LLM_CHECK(w.w1.shape == Shape({ffn, dim}) && w.w3.shape == w.w1.shape && w.w2.shape == Shape({dim, ffn}),
            "feed_forward: w1 ", w.w1.shape, " w3 ", w.w3.shape, " w2 ", w.w2.shape, " for x ", x.shape);
  LLM_CHECK(gate.shape == Shape({n, ffn}) && up.shape == gate.shape && out.shape == x.shape, "feed_forward: gate ",
            gate.shape, " up ", up.shape, " out ", out.shape, " for x ", x.shape);
  if (w.gate_up.data != nullptr) {
    LLM_CHECK(w.gate_up.data == w.w1.data && w.gate_up.dtype == w.w1.dtype && w.gate_up.shape == Shape({2 * ffn, dim}),
              "feed_forward: stacked weight ", w.gate_up.shape, " is not w1|w3");
  }
  do_feed_forward(x, w, gate, up, out);
}

void Backend::do_qkv_projection(TensorView x, const QkvWeights& w, TensorView q, TensorView k, TensorView v) {
  LLM_CHECK(x.dtype == DType::kF32, name(), ": qkv_projection of a ", dtype_name(x.dtype), " x");
  auto* q_bytes = static_cast<std::byte*>(q.data);
  const bool back_to_back = q_bytes + q.bytes() == k.data && static_cast<std::byte*>(k.data) + k.bytes() == v.data;
  if (x.shape[0] == 1 && w.stacked.data != nullptr && back_to_back) {
    do_linear(x, w.stacked, TensorView{q.data, DType::kF32, Shape{1, w.stacked.shape[0]}});
    return;
  }
  do_linear(x, w.wq, q);
  do_linear(x, w.wk, k);
  do_linear(x, w.wv, v);
}

void Backend::do_feed_forward(TensorView x, const FeedForwardWeights& w, TensorView gate, TensorView up,
                              TensorView out) {
  LLM_CHECK(x.dtype == DType::kF32, name(), ": feed_forward of a ", dtype_name(x.dtype), " x");
  if (x.shape[0] == 1 && w.gate_up.data != nullptr && static_cast<std::byte*>(gate.data) + gate.bytes() == up.data) {
    do_linear(x, w.gate_up, TensorView{gate.data, DType::kF32, Shape{1, w.gate_up.shape[0]}});  // = w1 x | w3 x
  } else {
    do_linear(x, w.w1, gate);
    do_linear(x, w.w3, up);
  }
  do_silu_mul(gate, up, gate);
  do_linear(gate, w.w2, out);
}

void Backend::rope(TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout) {
  check_f32(x, "rope x", 3);
  check_i32(positions, "rope positions", 1);
  check_f32(inv_freq, "rope inv_freq", 1);
  LLM_CHECK(positions.shape[0] == x.shape[0], "rope: ", positions.shape[0], " positions for ", x.shape[0], " rows");
  LLM_CHECK(x.shape[2] % 2 == 0 && inv_freq.shape[0] == x.shape[2] / 2, "rope: inv_freq ", inv_freq.shape,
            " for head_dim ", x.shape[2]);
  do_rope(x, positions, inv_freq, layout);
}

void Backend::kv_write(TensorView k, TensorView v, KvCacheView cache, TensorView slots) {
  check_f32(k, "kv_write k", 3);
  check_f32(v, "kv_write v", 3);
  check_i32(slots, "kv_write slots", 1);
  LLM_CHECK(k.shape == v.shape, "kv_write: k ", k.shape, " vs v ", v.shape);
  LLM_CHECK(slots.shape[0] == k.shape[0], "kv_write: ", slots.shape[0], " slots for ", k.shape[0], " rows");
  LLM_CHECK(cache.k.shape.rank() == 4 && cache.k.shape == cache.v.shape && cache.k.dtype == cache.v.dtype,
            "kv_write: cache k ", cache.k.shape, " v ", cache.v.shape);
  LLM_CHECK(is_dense_float(cache.k.dtype), "kv cache dtype ", dtype_name(cache.k.dtype));
  LLM_CHECK(cache.k.shape[2] == k.shape[1] && cache.k.shape[3] == k.shape[2], "kv_write: k ", k.shape,
            " does not fit cache ", cache.k.shape);
  do_kv_write(k, v, cache, slots);
}

void Backend::rope_kv_write(TensorView q, TensorView k, TensorView v, TensorView positions, TensorView inv_freq,
                            RopeLayout layout, KvCacheView cache, TensorView slots) {
  check_f32(q, "rope_kv_write q", 3);
  check_f32(k, "rope_kv_write k", 3);
  check_f32(v, "rope_kv_write v", 3);
  check_i32(positions, "rope_kv_write positions", 1);
  check_i32(slots, "rope_kv_write slots", 1);
  check_f32(inv_freq, "rope_kv_write inv_freq", 1);
  LLM_CHECK(q.shape[0] == k.shape[0] && q.shape[2] == k.shape[2] && k.shape == v.shape, "rope_kv_write: q ", q.shape,
            " k ", k.shape, " v ", v.shape);
  LLM_CHECK(positions.shape[0] == q.shape[0] && slots.shape[0] == q.shape[0], "rope_kv_write: ", positions.shape[0],
            " positions and ", slots.shape[0], " slots for ", q.shape[0], " rows");
  LLM_CHECK(q.shape[2] % 2 == 0 && inv_freq.shape[0] == q.shape[2] / 2, "rope_kv_write: inv_freq ", inv_freq.shape,
            " for head_dim ", q.shape[2]);
  LLM_CHECK(cache.k.shape.rank() == 4 && cache.k.shape == cache.v.shape && cache.k.dtype == cache.v.dtype,
            "rope_kv_write: cache k ", cache.k.shape, " v ", cache.v.shape);
  LLM_CHECK(is_dense_float(cache.k.dtype), "kv cache dtype ", dtype_name(cache.k.dtype));
  LLM_CHECK(cache.k.shape[2] == k.shape[1] && cache.k.shape[3] == k.shape[2], "rope_kv_write: k ", k.shape,
            " does not fit cache ", cache.k.shape);
  do_rope_kv_write(q, k, v, positions, inv_freq, layout, cache, slots);
}

void Backend::paged_attention(TensorView q, KvCacheView cache, const AttentionBatch& batch, TensorView out) {
  check_f32(q, "attention q", 3);
  check_f32(out, "attention out", 3);
  LLM_CHECK(q.shape == out.shape, "attention: q ", q.shape, " vs out ", out.shape);
  LLM_CHECK(q.data != out.data || q.numel() == 0, "attention: out must not alias q");
  check_i32(batch.query_start, "attention query_start", 1);
  check_i32(batch.positions, "attention positions", 1);
  check_i32(batch.block_tables, "attention block_tables", 2);
  LLM_CHECK(batch.query_start.shape[0] == batch.block_tables.shape[0] + 1, "attention: ",
            batch.query_start.shape[0], " query_start entries for ", batch.block_tables.shape[0], " sequences");
  LLM_CHECK(batch.positions.shape[0] == q.shape[0], "attention: ", batch.positions.shape[0], " positions for ",
            q.shape[0], " rows");
  LLM_CHECK(cache.k.shape.rank() == 4 && cache.k.shape == cache.v.shape && cache.k.dtype == cache.v.dtype,
            "attention: cache k ", cache.k.shape, " v ", cache.v.shape);
  LLM_CHECK(cache.k.shape[3] == q.shape[2], "attention: head_dim ", q.shape[2], " vs cache ", cache.k.shape);
  LLM_CHECK(q.shape[1] % cache.k.shape[2] == 0, "attention: ", q.shape[1], " query heads for ", cache.k.shape[2],
            " kv heads");
  do_paged_attention(q, cache, batch, out);
}

void Backend::silu_mul(TensorView gate, TensorView up, TensorView out) {
  check_f32(gate, "silu_mul gate", 2);
  check_f32(up, "silu_mul up", 2);
  check_f32(out, "silu_mul out", 2);
  LLM_CHECK(gate.shape == up.shape && gate.shape == out.shape, "silu_mul: gate ", gate.shape, " up ", up.shape,
            " out ", out.shape);
  do_silu_mul(gate, up, out);
}

void Backend::add(TensorView a, TensorView b, TensorView out) {
  LLM_CHECK(a.dtype == DType::kF32 && b.dtype == DType::kF32 && out.dtype == DType::kF32, "add: f32 only");
  LLM_CHECK(a.shape == b.shape && a.shape == out.shape, "add: a ", a.shape, " b ", b.shape, " out ", out.shape);
  do_add(a, b, out);
}

void Backend::gather_rows(TensorView x, TensorView rows, TensorView out) {
  check_f32(x, "gather_rows x", 2);
  check_i32(rows, "gather_rows rows", 1);
  check_f32(out, "gather_rows out", 2);
  LLM_CHECK(out.shape[0] == rows.shape[0] && out.shape[1] == x.shape[1], "gather_rows out: expected [",
            rows.shape[0], ", ", x.shape[1], "], got ", out.shape);
  do_gather_rows(x, rows, out);
}

void Backend::fill_synthetic(TensorView out, const SyntheticFill& fill) {
  LLM_CHECK(is_dense_float(out.dtype), "fill_synthetic out: f32, f16 or bf16, got ", dtype_name(out.dtype));
  LLM_CHECK(out.shape.rank() == 1 || out.shape.rank() == 2, "fill_synthetic out: 1-D or 2-D, got ", out.shape);
  const int64_t columns = out.shape[out.shape.rank() - 1];
  LLM_CHECK(fill.row0 >= 0 && fill.col0 >= 0 && fill.col0 + columns <= fill.columns, "fill_synthetic: a block of ",
            out.shape, " at row ", fill.row0, ", column ", fill.col0, " of rows of ", fill.columns);
  if (out.numel() == 0) return;
  do_fill_synthetic(out, fill);
}

void Backend::sample(TensorView logits, TensorView params, TensorView out) {
  check_f32(logits, "sample logits", 2);
  check_i32(params, "sample params", 2);
  check_i32(out, "sample out", 1);
  const int64_t n = logits.shape[0];
  LLM_CHECK(n == 0 || logits.shape[1] >= 1, "sample logits: expected a vocab of at least 1, got ", logits.shape);
  LLM_CHECK(logits.shape[1] <= std::numeric_limits<int32_t>::max(), "sample logits: vocab ", logits.shape[1],
            " does not fit an i32 token id");
  LLM_CHECK(params.shape[0] == n && params.shape[1] == kTokenSamplingWords, "sample params: expected [", n, ", ",
            kTokenSamplingWords, "] (TokenSampling records), got ", params.shape);
  LLM_CHECK(out.shape[0] == n, "sample out: expected [", n, "], got ", out.shape);
  do_sample(logits, params, out);
}

}  // namespace llm
