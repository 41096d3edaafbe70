#include "model/llama/llama_model.h"

#include <cmath>
#include <cstring>

#include "dist/local_communicator.h"
#include "util/check.h"
#include "util/str.h"

namespace llm {

LlamaModel::LlamaModel(Backend& backend, Communicator& comm, const LoadedModel& model, const RankShard& shard,
                       const KvCacheOptions& kv_options)
    : backend_(backend), comm_(&comm), config_(model.config), rope_layout_(model.rope_layout), shard_(shard),
      kv_options_(kv_options) {}

Result<std::unique_ptr<LlamaModel>> LlamaModel::create(Backend& backend, const LoadedModel& model,
                                                       const KvCacheOptions& kv_options) {
  auto local = std::make_unique<LocalCommunicator>();
  Result<std::unique_ptr<LlamaModel>> self =
      create_rank(RankContext{.backend = backend, .comm = *local, .layout = ParallelLayout{}}, model, kv_options);
  if (!self) return self.error();
  (*self)->own_comm_ = std::move(local);
  return self;
}

Result<std::unique_ptr<LlamaModel>> LlamaModel::create_rank(const RankContext& rank, const LoadedModel& model,
                                                            const KvCacheOptions& kv_options) {
  if (kv_options.n_blocks <= 0 || kv_options.block_size <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("kv cache: ", kv_options.n_blocks, " blocks of ", kv_options.block_size, " tokens"));
  }
  Status valid = validate_parallel_layout(model.config, model.sources, rank.layout);
  if (!valid) return valid.error();
  if (rank.comm.world_size() != rank.layout.tensor_parallel) {
    return make_error(ErrorCode::kInvalidArgument, str("rank (", rank.tp_rank, ", stage ", rank.pp_stage, "): a ",
                                                       rank.comm.world_size(), "-rank communicator for tensor-parallel size ",
                                                       rank.layout.tensor_parallel));
  }
  RankShard shard = plan_rank_shard(model.config, model.sources, rank.layout, rank.tp_rank, rank.pp_stage);
  std::unique_ptr<LlamaModel> self(new LlamaModel(rank.backend, rank.comm, model, shard, kv_options));
  Result<ShardWeights> host = build_shard_weights(model.sources, model.config, shard);
  if (!host) return host.error();
  Status status = self->place_weights(std::move(*host));
  if (!status) return status.error();
  const LlamaConfig& c = self->config_;
  Shape kv_shape{kv_options.n_blocks, kv_options.block_size, shard.kv_heads.size(), c.head_dim};
  int64_t kv_bytes = TensorView{nullptr, kv_options.dtype, kv_shape}.bytes();
  for (int64_t layer = shard.layers.begin; layer < shard.layers.end; ++layer) {
    Result<Buffer> k = rank.backend.allocate(kv_bytes);
    if (!k) return k.error();
    Result<Buffer> v = rank.backend.allocate(kv_bytes);
    if (!v) return v.error();
    self->kv_layers_.push_back(KvCacheView{k->view(kv_options.dtype, kv_shape), v->view(kv_options.dtype, kv_shape)});
    self->kv_buffers_.push_back(std::move(*k));
    self->kv_buffers_.push_back(std::move(*v));
  }
  Result<Buffer> freqs =
      rank.backend.allocate(static_cast<int64_t>(model.rope_inverse_frequencies.size() * sizeof(float)));
  if (!freqs) return freqs.error();
  self->rope_inv_freq_ = std::move(*freqs);
  rank.backend.copy_from_host(self->rope_inv_freq_.view(DType::kF32, {c.head_dim / 2}),
                              model.rope_inverse_frequencies.data());
  return self;
}

Status LlamaModel::place_weights(ShardWeights host) {
  host_copied_bytes_ = host.copied_bytes;
  weights_ = host.weights;
  if (backend_.device_kind() == DeviceKind::kCpu) {  // host memory is device memory
    host_weights_ = std::move(host);
    return {};
  }
  auto upload = [&](TensorView& view) -> Status {
    if (view.data == nullptr) return {};  // not in this pipeline stage
    Result<Buffer> buffer = backend_.allocate(view.bytes());
    if (!buffer) return buffer.error();
    TensorView device = buffer->view(view.dtype, view.shape);
    backend_.copy_from_host(device, view.data);
    view = device;
    weight_buffers_.push_back(std::move(*buffer));
    return {};
  };
  bool tied = weights_.output.data != nullptr && weights_.output.data == weights_.token_embedding.data;
  Status status;
  for_each_weight(weights_, [&](WeightRole role, int64_t, TensorView& view) {
    if (status && !(role == WeightRole::kOutput && tied)) status = upload(view);
  });
  if (tied) weights_.output = weights_.token_embedding;
  return status;  // the host copies (`host`) are freed here
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
  LLM_CHECK(shard_.first_stage() && shard_.last_stage(), "forward on pipeline stage ", shard_.pp_stage, " of ",
            shard_.pp_size, ": use forward_stage");
  return forward_stage(batch, {}, logits);
}

Status LlamaModel::forward_stage(const ForwardBatch& batch, std::span<const float> hidden_in,
                                 std::vector<float>& out) {
  const LlamaConfig& c = config_;
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t n_seqs = static_cast<int64_t>(batch.query_start.size()) - 1;
  LLM_CHECK(n > 0 && n_seqs > 0 && batch.positions.size() == batch.tokens.size() &&
                batch.slots.size() == batch.tokens.size() &&
                static_cast<int64_t>(batch.block_tables.size()) == n_seqs * batch.max_blocks_per_seq,
            "malformed batch: ", n, " tokens, ", n_seqs, " sequences");
  LLM_CHECK(shard_.first_stage() || static_cast<int64_t>(hidden_in.size()) == n * c.dim, "stage ", shard_.pp_stage,
            ": hidden_in has ", hidden_in.size(), " floats, expected ", n * c.dim);
  // This rank's slice of every split dim.
  const int64_t n_heads = shard_.q_heads.size(), n_kv_heads = shard_.kv_heads.size();
  const int64_t q_dim = n_heads * c.head_dim, kv_dim = n_kv_heads * c.head_dim;
  const int64_t ffn_dim = shard_.ffn.size(), vocab = shard_.vocab.size();
  const int64_t n_out = shard_.last_stage() ? static_cast<int64_t>(batch.logit_rows.size()) : 0;
  const bool gather = comm_->world_size() > 1;

  // Activations of this step.
  int64_t floats = n * (2 * c.dim + q_dim + 2 * kv_dim + q_dim + 2 * ffn_dim) +
                   n_out * (c.dim + vocab + (gather ? c.vocab_size : 0)) + c.dim;
  Result<Buffer> workspace = backend_.allocate(floats * 4);
  if (!workspace) return workspace.error();
  std::byte* cursor = static_cast<std::byte*>(workspace->data());
  auto take = [&](Shape shape) {
    TensorView view{cursor, DType::kF32, shape};
    cursor += view.bytes();
    return view;
  };
  TensorView x = take({n, c.dim});          // residual stream, the same on every rank of the stage
  TensorView h = take({n, c.dim});          // normed input of a sublayer / its partial output
  TensorView q = take({n, q_dim});          // this rank's heads
  TensorView k = take({n, kv_dim});         // this rank's kv heads
  TensorView v = take({n, kv_dim});
  TensorView attn = take({n, q_dim});
  TensorView gate = take({n, ffn_dim});     // this rank's ffn slice
  TensorView up = take({n, ffn_dim});
  TensorView last = take({n_out, c.dim});
  TensorView local_logits = take({n_out, vocab});  // this rank's vocab slice
  // Every rank's slice in rank order (flat), reordered into [n_out, vocab] on the host.
  TensorView all_logits = gather ? take({n_out * c.vocab_size}) : local_logits;

  Buffer tokens_buffer, positions_buffer, slots_buffer, starts_buffer, tables_buffer;
  TensorView positions = upload_ints(batch.positions, {n}, positions_buffer);
  TensorView slots = upload_ints(batch.slots, {n}, slots_buffer);
  AttentionBatch attention{
      .query_start = upload_ints(batch.query_start, {n_seqs + 1}, starts_buffer),
      .positions = positions,
      .block_tables = upload_ints(batch.block_tables, {n_seqs, batch.max_blocks_per_seq}, tables_buffer),
      .scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim))),
  };
  TensorView inv_freq = rope_inv_freq_.view(DType::kF32, {c.head_dim / 2});
  const float eps = static_cast<float>(c.norm_eps);
  Communicator& comm = *comm_;
  Status status;

  if (shard_.first_stage()) {
    TensorView tokens = upload_ints(batch.tokens, {n}, tokens_buffer);
    // Vocab-parallel: each rank embeds the ids in its rows (zeros elsewhere); the sum is the embedding.
    backend_.embedding(weights_.token_embedding, tokens, x, shard_.vocab.begin);
    if (!(status = comm.all_reduce_sum(x))) return status;
  } else {
    backend_.copy_from_host(x, hidden_in.data());
  }
  for (size_t layer = 0; layer < weights_.layers.size(); ++layer) {
    const LayerWeights& w = weights_.layers[layer];
    const KvCacheView& cache = kv_layers_[layer];
    // Attention block: x += wo(attention(rope(wq h), rope(wk h), wv h)), h = norm(x). Each rank
    // attends with its heads; wo (row-parallel) gives partial sums over heads, all-reduced.
    backend_.rms_norm(x, w.attention_norm, eps, h);
    backend_.linear(h, w.wq, q);
    backend_.linear(h, w.wk, k);
    backend_.linear(h, w.wv, v);
    TensorView q_heads = q.reshape({n, n_heads, c.head_dim});
    TensorView k_heads = k.reshape({n, n_kv_heads, c.head_dim});
    backend_.rope(q_heads, positions, inv_freq, rope_layout_);
    backend_.rope(k_heads, positions, inv_freq, rope_layout_);
    backend_.kv_write(k_heads, v.reshape({n, n_kv_heads, c.head_dim}), cache, slots);
    backend_.paged_attention(q_heads, cache, attention, attn.reshape({n, n_heads, c.head_dim}));
    backend_.linear(attn, w.wo, h);
    if (!(status = comm.all_reduce_sum(h))) return status;
    backend_.add(x, h, x);
    // Feed-forward block: x += w2(silu(w1 h) * w3 h), h = norm(x). Each rank runs its ffn slice;
    // w2 (row-parallel) gives partial sums, all-reduced.
    backend_.rms_norm(x, w.ffn_norm, eps, h);
    backend_.linear(h, w.w1, gate);
    backend_.linear(h, w.w3, up);
    backend_.silu_mul(gate, up, gate);
    backend_.linear(gate, w.w2, h);
    if (!(status = comm.all_reduce_sum(h))) return status;
    backend_.add(x, h, x);
  }
  if (!shard_.last_stage()) {  // hand the residual stream to the next stage
    out.resize(static_cast<size_t>(n * c.dim));
    backend_.copy_to_host(out.data(), x);
    return {};
  }
  // Only the requested rows go through the final norm and the (large) output projection (none
  // for a prefill chunk that is not a prompt's last; every rank sees the same batch, so all skip).
  out.clear();
  if (n_out == 0) return {};
  Buffer rows_holder;
  TensorView rows = upload_ints(batch.logit_rows, {n_out}, rows_holder);
  backend_.gather_rows(x, rows, last);
  backend_.rms_norm(last, weights_.output_norm, eps, last);
  backend_.linear(last, weights_.output, local_logits);  // vocab-parallel: this rank's columns of the logits
  if (gather && !(status = comm.all_gather(local_logits, all_logits))) return status;
  out.resize(static_cast<size_t>(n_out * c.vocab_size));
  if (!gather) {
    backend_.copy_to_host(out.data(), local_logits);
    return {};
  }
  std::vector<float> flat(static_cast<size_t>(n_out * c.vocab_size));
  backend_.copy_to_host(flat.data(), all_logits);
  const float* block = flat.data();
  for (int r = 0; r < shard_.tp_size; ++r) {  // rank r's block is [n_out, its vocab slice]
    Range slice = vocab_slice(c, shard_.tp_size, r);
    for (int64_t i = 0; i < n_out; ++i) {
      std::memcpy(out.data() + i * c.vocab_size + slice.begin, block + i * slice.size(),
                  static_cast<size_t>(slice.size()) * sizeof(float));
    }
    block += n_out * slice.size();
  }
  return {};
}

}  // namespace llm
