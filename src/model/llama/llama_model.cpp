#include "model/llama/llama_model.h"

#include <cmath>

#include "util/check.h"
#include "util/str.h"

namespace llm {

LlamaModel::LlamaModel(Backend& backend, const LoadedModel& model, const KvCacheOptions& kv_options)
    : backend_(backend), config_(model.config), rope_layout_(model.rope_layout), kv_options_(kv_options) {}

Result<std::unique_ptr<LlamaModel>> LlamaModel::create(Backend& backend, const LoadedModel& model,
                                                       const KvCacheOptions& kv_options) {
  if (kv_options.n_blocks <= 0 || kv_options.block_size <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("kv cache: ", kv_options.n_blocks, " blocks of ", kv_options.block_size, " tokens"));
  }
  std::unique_ptr<LlamaModel> self(new LlamaModel(backend, model, kv_options));
  Status status = self->upload_weights(model);
  if (!status) return status.error();
  const LlamaConfig& c = self->config_;
  Shape kv_shape{kv_options.n_blocks, kv_options.block_size, c.n_kv_heads, c.head_dim};
  int64_t kv_bytes = TensorView{nullptr, kv_options.dtype, kv_shape}.bytes();
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    Result<Buffer> k = backend.allocate(kv_bytes);
    if (!k) return k.error();
    Result<Buffer> v = backend.allocate(kv_bytes);
    if (!v) return v.error();
    self->kv_layers_.push_back(KvCacheView{k->view(kv_options.dtype, kv_shape), v->view(kv_options.dtype, kv_shape)});
    self->kv_buffers_.push_back(std::move(*k));
    self->kv_buffers_.push_back(std::move(*v));
  }
  Result<Buffer> freqs = backend.allocate(static_cast<int64_t>(model.rope_inverse_frequencies.size() * sizeof(float)));
  if (!freqs) return freqs.error();
  self->rope_inv_freq_ = std::move(*freqs);
  backend.copy_from_host(self->rope_inv_freq_.view(DType::kF32, {c.head_dim / 2}), model.rope_inverse_frequencies.data());
  return self;
}

Status LlamaModel::upload_weights(const LoadedModel& model) {
  weights_ = model.weights;
  if (backend_.device_kind() == DeviceKind::kCpu) return {};  // host memory is device memory
  auto upload = [&](TensorView& view) -> Status {
    Result<Buffer> buffer = backend_.allocate(view.bytes());
    if (!buffer) return buffer.error();
    TensorView device = buffer->view(view.dtype, view.shape);
    backend_.copy_from_host(device, view.data);
    view = device;
    weight_buffers_.push_back(std::move(*buffer));
    return {};
  };
  bool tied = model.weights.output.data == model.weights.token_embedding.data;
  for (TensorView* view : {&weights_.token_embedding, &weights_.output_norm}) {
    Status status = upload(*view);
    if (!status) return status;
  }
  if (tied) {
    weights_.output = weights_.token_embedding;
  } else {
    Status status = upload(weights_.output);
    if (!status) return status;
  }
  for (LayerWeights& layer : weights_.layers) {
    for (TensorView* view : {&layer.attention_norm, &layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.ffn_norm,
                             &layer.w1, &layer.w3, &layer.w2}) {
      Status status = upload(*view);
      if (!status) return status;
    }
  }
  return {};
}

TensorView LlamaModel::upload_ints(const std::vector<int32_t>& values, Shape shape, Buffer& holder) {
  LLM_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), values.size(), " ints for ", shape);
  Result<Buffer> buffer = backend_.allocate(std::max<int64_t>(1, static_cast<int64_t>(values.size() * 4)));
  LLM_CHECK(buffer.ok(), "index upload: ", buffer.error().message);
  holder = std::move(*buffer);
  TensorView view = holder.view(DType::kI32, shape);
  if (!values.empty()) backend_.copy_from_host(view, values.data());
  return view;
}

Status LlamaModel::forward(const ForwardBatch& batch, std::vector<float>& logits) {
  const LlamaConfig& c = config_;
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t n_seqs = static_cast<int64_t>(batch.query_start.size()) - 1;
  LLM_CHECK(n > 0 && n_seqs > 0 && batch.positions.size() == batch.tokens.size() &&
                batch.slots.size() == batch.tokens.size() &&
                static_cast<int64_t>(batch.block_tables.size()) == n_seqs * batch.max_blocks_per_seq,
            "malformed batch: ", n, " tokens, ", n_seqs, " sequences");
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  const int64_t n_out = static_cast<int64_t>(batch.logit_rows.size());

  // Activations of this step.
  int64_t floats = n * (2 * c.dim + q_dim + 2 * kv_dim + q_dim + 2 * c.ffn_dim) + n_out * (c.dim + c.vocab_size) + c.dim;
  Result<Buffer> workspace = backend_.allocate(floats * 4);
  if (!workspace) return workspace.error();
  std::byte* cursor = static_cast<std::byte*>(workspace->data());
  auto take = [&](Shape shape) {
    TensorView view{cursor, DType::kF32, shape};
    cursor += view.bytes();
    return view;
  };
  TensorView x = take({n, c.dim});          // residual stream
  TensorView h = take({n, c.dim});          // normed input of a sublayer
  TensorView q = take({n, q_dim});
  TensorView k = take({n, kv_dim});
  TensorView v = take({n, kv_dim});
  TensorView attn = take({n, q_dim});
  TensorView gate = take({n, c.ffn_dim});
  TensorView up = take({n, c.ffn_dim});
  TensorView last = take({n_out, c.dim});
  TensorView out_logits = take({n_out, c.vocab_size});

  Buffer tokens_buffer, positions_buffer, slots_buffer, starts_buffer, tables_buffer, rows_buffer;
  TensorView tokens = upload_ints(batch.tokens, {n}, tokens_buffer);
  TensorView positions = upload_ints(batch.positions, {n}, positions_buffer);
  TensorView slots = upload_ints(batch.slots, {n}, slots_buffer);
  AttentionBatch attention{
      .query_start = upload_ints(batch.query_start, {n_seqs + 1}, starts_buffer),
      .positions = positions,
      .block_tables = upload_ints(batch.block_tables, {n_seqs, batch.max_blocks_per_seq}, tables_buffer),
      .scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim))),
  };
  TensorView rows = upload_ints(batch.logit_rows, {n_out}, rows_buffer);
  TensorView inv_freq = rope_inv_freq_.view(DType::kF32, {c.head_dim / 2});
  const float eps = static_cast<float>(c.norm_eps);

  backend_.embedding(weights_.token_embedding, tokens, x);
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const LayerWeights& w = weights_.layers[static_cast<size_t>(layer)];
    const KvCacheView& cache = kv_layers_[static_cast<size_t>(layer)];
    // Attention block: x += wo(attention(rope(wq h), rope(wk h), wv h)), h = norm(x).
    backend_.rms_norm(x, w.attention_norm, eps, h);
    backend_.linear(h, w.wq, q);
    backend_.linear(h, w.wk, k);
    backend_.linear(h, w.wv, v);
    TensorView q_heads = q.reshape({n, c.n_heads, c.head_dim});
    TensorView k_heads = k.reshape({n, c.n_kv_heads, c.head_dim});
    backend_.rope(q_heads, positions, inv_freq, rope_layout_);
    backend_.rope(k_heads, positions, inv_freq, rope_layout_);
    backend_.kv_write(k_heads, v.reshape({n, c.n_kv_heads, c.head_dim}), cache, slots);
    backend_.paged_attention(q_heads, cache, attention, attn.reshape({n, c.n_heads, c.head_dim}));
    backend_.linear(attn, w.wo, h);
    backend_.add(x, h, x);
    // Feed-forward block: x += w2(silu(w1 h) * w3 h), h = norm(x).
    backend_.rms_norm(x, w.ffn_norm, eps, h);
    backend_.linear(h, w.w1, gate);
    backend_.linear(h, w.w3, up);
    backend_.silu_mul(gate, up, gate);
    backend_.linear(gate, w.w2, h);
    backend_.add(x, h, x);
  }
  // Only the requested rows go through the final norm and the (large) output projection.
  backend_.gather_rows(x, rows, last);
  backend_.rms_norm(last, weights_.output_norm, eps, last);
  backend_.linear(last, weights_.output, out_logits);
  logits.resize(static_cast<size_t>(n_out * c.vocab_size));
  backend_.copy_to_host(logits.data(), out_logits);
  return {};
}

}  // namespace llm
