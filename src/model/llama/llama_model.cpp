#include "model/llama/llama_model.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "dist/local_communicator.h"
#include "util/check.h"
#include "util/log.h"
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
  if (kv_options.n_blocks < 0 || kv_options.block_size <= 0) {
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
  if (kv_options.n_blocks > 0) {
    Status kv = self->allocate_kv_cache(kv_options.n_blocks);
    if (!kv) return kv.error();
  }
  Result<Buffer> freqs =
      rank.backend.allocate(static_cast<int64_t>(model.rope_inverse_frequencies.size() * sizeof(float)));
  if (!freqs) return freqs.error();
  self->rope_inv_freq_ = std::move(*freqs);
  rank.backend.copy_from_host(self->rope_inv_freq_.view(DType::kF32, {self->config_.head_dim / 2}),
                              model.rope_inverse_frequencies.data());
  return self;
}

int64_t LlamaModel::kv_bytes_per_block() const {
  const Shape block{1, kv_options_.block_size, shard_.kv_heads.size(), config_.head_dim};
  return 2 * shard_.layers.size() * TensorView{nullptr, kv_options_.dtype, block}.bytes();
}

Status LlamaModel::allocate_kv_cache(int32_t n_blocks) {
  LLM_CHECK(n_blocks >= 0, "kv cache of ", n_blocks, " blocks");
  kv_layers_.clear();
  kv_pool_ = Buffer();  // freed before the new pool is taken: both need not fit at once
  step_recordings_.clear();  // they hold views of the old pool
  kv_options_.n_blocks = n_blocks;
  if (n_blocks == 0) return {};
  const Shape kv_shape{n_blocks, kv_options_.block_size, shard_.kv_heads.size(), config_.head_dim};
  // One allocation for every layer's K and V: the allocator rounds each allocation up (2 MiB
  // classes), which per layer would waste up to 2 x layers x 2 MiB. Each slice starts 256-byte
  // aligned, as its own allocation would, for the kernels' vector loads.
  const int64_t kv_bytes = (TensorView{nullptr, kv_options_.dtype, kv_shape}.bytes() + 255) / 256 * 256;
  Result<Buffer> pool = backend_.allocate(2 * shard_.layers.size() * kv_bytes);
  if (!pool) return pool.error();
  auto* base = static_cast<std::byte*>(pool->data());
  for (int64_t layer = 0; layer < shard_.layers.size(); ++layer) {
    kv_layers_.push_back(KvCacheView{TensorView{base + 2 * layer * kv_bytes, kv_options_.dtype, kv_shape},
                                     TensorView{base + (2 * layer + 1) * kv_bytes, kv_options_.dtype, kv_shape}});
  }
  kv_pool_ = std::move(*pool);
  return {};
}

Status LlamaModel::place_weights(ShardWeights host) {
  host_copied_bytes_ = host.copied_bytes;
  weights_ = host.weights;
  const bool tied = host.tied_output;
  auto upload = [&](TensorView& view, const std::optional<SyntheticFill>& fill) -> Status {
    if (view.data == nullptr && !fill) return {};  // not in this pipeline stage
    Result<Buffer> buffer = backend_.allocate(view.bytes());
    if (!buffer) return buffer.error();
    TensorView device = buffer->view(view.dtype, view.shape);
    write_weight(device, view, fill);
    view = device;
    weight_buffers_.push_back(std::move(*buffer));
    return {};
  };
  using Fill = std::optional<SyntheticFill>;
  Status status;
  // On the CPU host memory is device memory: only the slots a synthetic model makes need a place.
  if (backend_.device_kind() == DeviceKind::kCpu) {
    for_each_weight(
        [&](WeightRole role, int64_t, TensorView& view, const Fill& fill) {
          if (status && fill && !(role == WeightRole::kOutput && tied)) status = upload(view, fill);
        },
        weights_, host.synthetic);
    if (tied) weights_.output = weights_.token_embedding;
    host_weights_ = std::move(host);
    product_dtype_ = shared_product_dtype();
    return status;
  }
  // Stacked groups first; upload() then skips their views (already device pointers).
  std::vector<const void*> placed;
  for (size_t i = 0; i < weights_.layers.size(); ++i) {
    LayerWeights& layer = weights_.layers[i];
    const LayerTensors<Fill>& fills = host.synthetic.layers[i];
    StackedLayer stacked;
    Result<TensorView> qkv = upload_stacked({{&layer.wq, &fills.wq}, {&layer.wk, &fills.wk}, {&layer.wv, &fills.wv}});
    if (!qkv) return qkv.error();
    stacked.qkv = *qkv;
    Result<TensorView> gate_up = upload_stacked({{&layer.w1, &fills.w1}, {&layer.w3, &fills.w3}});
    if (!gate_up) return gate_up.error();
    stacked.gate_up = *gate_up;
    if (stacked.qkv.data != nullptr) placed.insert(placed.end(), {layer.wq.data, layer.wk.data, layer.wv.data});
    if (stacked.gate_up.data != nullptr) placed.insert(placed.end(), {layer.w1.data, layer.w3.data});
    stacked_.push_back(stacked);
  }
  // An untied token embedding stays in (pinned, mapped) host memory, as llama.cpp keeps it: a
  // step reads only its tokens' rows (8 KiB each for an 8B model, 16 MiB for a 2,048-token
  // prefill, over PCIe), and the table is 1 GiB of device memory the KV cache can use instead.
  // A tied table is also the output projection, which reads all of it every step.
  TensorView& embedding = weights_.token_embedding;
  if (!tied && (embedding.data != nullptr || host.synthetic.token_embedding)) {
    if (Result<Buffer> mapped = backend_.allocate_host_mapped(embedding.bytes())) {
      const TensorView in_host = mapped->view(embedding.dtype, embedding.shape);
      if (host.synthetic.token_embedding) {
        backend_.fill_synthetic(in_host, *host.synthetic.token_embedding);
      } else {
        std::memcpy(in_host.data, embedding.data, static_cast<size_t>(embedding.bytes()));
      }
      embedding = in_host;
      placed.push_back(embedding.data);
      weight_buffers_.push_back(std::move(*mapped));
    } else if (mapped.error().code != ErrorCode::kUnsupported) {
      log_warning("token embedding kept in device memory: ", mapped.error().message);
    }
  }
  for_each_weight(
      [&](WeightRole role, int64_t, TensorView& view, const Fill& fill) {
        if (view.data != nullptr && std::find(placed.begin(), placed.end(), view.data) != placed.end()) return;
        if (status && !(role == WeightRole::kOutput && tied)) status = upload(view, fill);
      },
      weights_, host.synthetic);
  if (tied) weights_.output = weights_.token_embedding;
  backend_.synchronize();  // made weights are ready, and the host copies (`host`) can go
  product_dtype_ = shared_product_dtype();
  return status;
}

void LlamaModel::write_weight(TensorView device, const TensorView& host_view,
                              const std::optional<SyntheticFill>& fill) {
  if (fill) {
    backend_.fill_synthetic(device, *fill);
  } else {
    backend_.copy_from_host(device, host_view.data);
  }
}

std::optional<DType> LlamaModel::shared_product_dtype() const {
  std::optional<DType> shared;
  for (const LayerWeights& l : weights_.layers) {
    for (const TensorView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w3, &l.w2}) {
      if (shared && *shared != w->dtype) return std::nullopt;
      shared = w->dtype;
    }
  }
  return shared;
}

Result<TensorView> LlamaModel::upload_stacked(std::initializer_list<StackedPart> parts) {
  constexpr int64_t kAlignment = 256;  // every part's rows start where a GEMM/GEMV may vector-load
  const TensorView& first = *parts.begin()->view;
  int64_t rows = 0, bytes = 0;
  for (const StackedPart& part : parts) {
    const TensorView& view = *part.view;
    if ((view.data == nullptr && !*part.fill) || view.dtype != first.dtype || view.shape.rank() != 2 ||
        view.shape[1] != first.shape[1] || bytes % kAlignment != 0) {
      return TensorView{};
    }
    rows += view.shape[0];
    bytes += view.bytes();
  }
  Result<Buffer> buffer = backend_.allocate(bytes);
  if (!buffer) return buffer.error();
  auto* cursor = static_cast<std::byte*>(buffer->data());
  for (const StackedPart& part : parts) {
    TensorView device{cursor, part.view->dtype, part.view->shape};
    write_weight(device, *part.view, *part.fill);
    *part.view = device;
    cursor += device.bytes();
  }
  TensorView all = buffer->view(first.dtype, Shape{rows, first.shape[1]});
  weight_buffers_.push_back(std::move(*buffer));
  return all;
}

Status LlamaModel::forward(const ForwardBatch& batch, std::vector<float>& logits) {
  LLM_CHECK(shard_.first_stage() && shard_.last_stage(), "forward on pipeline stage ", shard_.pp_stage, " of ",
            shard_.pp_size, ": use forward_stage");
  return forward_stage(batch, {}, logits);
}

namespace {

// Decode steps of at most this many sequences are recorded (CUDA graphs); at most this many
// recordings are kept (each owns its activations: ~46 MB at 64 rows of an 8B model).
constexpr int64_t kMaxRecordedRows = 64;
constexpr size_t kMaxStepRecordings = 8;

// Block-table width a recording is made for: a power of two of at least 16 blocks, so a sequence
// that grows re-records only when it doubles. Unused entries are block 0 and never read.
int64_t recorded_table_width(int64_t max_blocks_per_seq) {
  return std::max<int64_t>(16, static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>(max_blocks_per_seq))));
}

}  // namespace

int64_t LlamaModel::recorded_steps_reserve_bytes(int64_t max_rows) const {
  if (!backend_.can_record() || comm_->world_size() > 1 || !shard_.first_stage() || !shard_.last_stage()) return 0;
  const int64_t rows = std::min(max_rows, kMaxRecordedRows);
  // A recording's activations and indices (block tables up to 1,024 blocks wide), plus half
  // again for the scratch its ops keep (bf16 copies of x, attention partials).
  const StepShape shape = step_shape(rows, rows, 1024, rows, rows);
  return static_cast<int64_t>(kMaxStepRecordings) * shape.bytes() * 3 / 2;
}

Status LlamaModel::run_profile_step(int64_t rows, int64_t logit_rows) {
  const int64_t block_size = kv_options_.block_size;
  const int64_t n_blocks = (rows + block_size - 1) / block_size;
  LLM_CHECK(rows > 0 && logit_rows > 0 && logit_rows <= rows && n_blocks <= kv_options_.n_blocks, "profile step of ",
            rows, " rows (", logit_rows, " logit rows) on a pool of ", kv_options_.n_blocks, " blocks");
  ForwardBatch batch;
  for (int64_t i = 0; i < rows; ++i) {
    batch.tokens.push_back(static_cast<int32_t>(i % config_.vocab_size));
    batch.positions.push_back(static_cast<int32_t>(i));
    batch.slots.push_back(static_cast<int32_t>(i));  // block i / block_size of the identity table
  }
  batch.query_start = {0, static_cast<int32_t>(rows)};
  for (int64_t b = 0; b < n_blocks; ++b) batch.block_tables.push_back(static_cast<int32_t>(b));
  batch.max_blocks_per_seq = static_cast<int32_t>(n_blocks);
  for (int64_t i = rows - logit_rows; i < rows; ++i) batch.logit_rows.push_back(static_cast<int32_t>(i));
  std::vector<float> hidden_in(shard_.first_stage() ? 0 : static_cast<size_t>(rows * config_.dim), 0.0f);
  std::vector<float> out;
  Status status = forward_stage(batch, hidden_in, out);
  backend_.synchronize();
  return status;
}

LlamaModel::StepShape LlamaModel::step_shape(int64_t n, int64_t n_seqs, int64_t table_width, int64_t n_out,
                                             int64_t n_sampled) const {
  const LlamaConfig& c = config_;
  StepShape shape{.n = n, .n_seqs = n_seqs, .table_width = table_width, .n_out = n_out, .n_sampled = n_sampled};
  if (product_dtype_) shape.operand = backend_.operand_dtype(n, *product_dtype_);
  const int64_t q_dim = shard_.q_heads.size() * c.head_dim, kv_dim = shard_.kv_heads.size() * c.head_dim;
  const bool gather = comm_->world_size() > 1;
  const int64_t normed = shape.operand == DType::kF32 ? 0 : (n * c.dim + 1) / 2;  // halves, in floats
  shape.floats = n * (2 * c.dim + q_dim + 2 * kv_dim + q_dim + 2 * shard_.ffn.size()) + normed +
                 n_out * (c.dim + shard_.vocab.size() + (gather ? c.vocab_size : 0)) + c.dim;
  shape.floats += shape.floats % 2;
  shape.ints = n_sampled * kTokenSamplingWords + 3 * n + (n_seqs + 1) + n_seqs * table_width + n_out;
  return shape;
}

LlamaModel::StepViews LlamaModel::carve_step(const StepShape& shape, void* base) const {
  const LlamaConfig& c = config_;
  const int64_t n = shape.n, n_out = shape.n_out;
  const int64_t q_dim = shard_.q_heads.size() * c.head_dim, kv_dim = shard_.kv_heads.size() * c.head_dim;
  std::byte* cursor = static_cast<std::byte*>(base);
  auto take = [&](DType dtype, Shape dims) {
    TensorView view{cursor, dtype, dims};
    cursor += view.bytes();
    return view;
  };
  StepViews v;
  v.x = take(DType::kF32, {n, c.dim});      // residual stream, the same on every rank of the stage
  v.h = take(DType::kF32, {n, c.dim});      // normed input of a sublayer / its partial output
  // The products' half operand, written by the norms; 16-byte aligned (n x dim is even).
  v.normed = shape.operand == DType::kF32 ? v.h : take(shape.operand, {n, c.dim});
  if (shape.operand != DType::kF32 && v.normed.bytes() % 4 != 0) cursor += 2;  // the f32 views stay aligned
  v.q = take(DType::kF32, {n, q_dim});      // this rank's heads
  v.k = take(DType::kF32, {n, kv_dim});     // this rank's kv heads
  v.v = take(DType::kF32, {n, kv_dim});
  v.attn = take(DType::kF32, {n, q_dim});
  v.gate = take(DType::kF32, {n, shard_.ffn.size()});  // this rank's ffn slice
  v.up = take(DType::kF32, {n, shard_.ffn.size()});
  v.last = take(DType::kF32, {n_out, c.dim});
  v.local_logits = take(DType::kF32, {n_out, shard_.vocab.size()});  // this rank's vocab slice
  // Every rank's slice in rank order (flat), reordered into [n_out, vocab] on the host.
  v.all_logits = comm_->world_size() > 1 ? take(DType::kF32, {n_out * c.vocab_size}) : v.local_logits;
  cursor = static_cast<std::byte*>(base) + shape.floats * 4;
  // The indices, in the order pack_indices writes them.
  v.indices = TensorView{cursor, DType::kI32, Shape{shape.ints}};
  v.sampling = take(DType::kI32, {shape.n_sampled, kTokenSamplingWords});  // first: 8-byte aligned
  v.tokens = take(DType::kI32, {n});
  v.positions = take(DType::kI32, {n});
  v.slots = take(DType::kI32, {n});
  v.attention.query_start = take(DType::kI32, {shape.n_seqs + 1});
  v.attention.positions = v.positions;
  v.attention.block_tables = take(DType::kI32, {shape.n_seqs, shape.table_width});
  v.attention.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));
  v.logit_rows = take(DType::kI32, {n_out});
  v.sampled = take(DType::kI32, {shape.n_sampled});
  return v;
}

// sampling records | tokens | positions | slots | query_start | block_tables (table_width
// columns) | logit_rows.
std::vector<int32_t> LlamaModel::pack_indices(const ForwardBatch& batch, std::span<const TokenSampling> sampling,
                                              const StepShape& shape) const {
  std::vector<int32_t> packed(sampling.size() * kTokenSamplingWords);
  std::memcpy(packed.data(), sampling.data(), sampling.size_bytes());
  packed.reserve(static_cast<size_t>(shape.ints));
  packed.insert(packed.end(), batch.tokens.begin(), batch.tokens.end());
  packed.insert(packed.end(), batch.positions.begin(), batch.positions.end());
  packed.insert(packed.end(), batch.slots.begin(), batch.slots.end());
  packed.insert(packed.end(), batch.query_start.begin(), batch.query_start.end());
  for (int64_t s = 0; s < shape.n_seqs; ++s) {
    auto row = batch.block_tables.begin() + s * batch.max_blocks_per_seq;
    packed.insert(packed.end(), row, row + batch.max_blocks_per_seq);
    packed.insert(packed.end(), static_cast<size_t>(shape.table_width - batch.max_blocks_per_seq), 0);
  }
  // Only the last pipeline stage takes logit rows (n_out is 0 on the others).
  packed.insert(packed.end(), batch.logit_rows.begin(), batch.logit_rows.begin() + shape.n_out);
  LLM_CHECK(static_cast<int64_t>(packed.size()) == shape.ints, "packed ", packed.size(), " indices, expected ",
            shape.ints);
  return packed;
}

LlamaModel::StepRecordingSlot* LlamaModel::find_or_record(const StepShape& shape) {
  auto key = std::tuple{shape.n, shape.n_seqs, shape.table_width, shape.n_out, shape.n_sampled};
  auto it = step_recordings_.find(key);
  if (it != step_recordings_.end()) return it->second.recording ? &it->second : nullptr;
  if (step_recordings_.size() >= kMaxStepRecordings) return nullptr;
  StepRecordingSlot& slot = step_recordings_[key];  // stays empty (eager) if recording fails
  Result<Buffer> memory = backend_.allocate(shape.bytes());
  if (!memory) return nullptr;
  StepViews views = carve_step(shape, memory->data());
  backend_.begin_recording();
  Status status = enqueue_step(shape, views);
  Result<std::unique_ptr<StepRecording>> recording = backend_.end_recording();
  if (!status || !recording) return nullptr;
  slot.memory = std::move(*memory);
  slot.views = views;
  slot.recording = std::move(*recording);
  return &slot;
}

Status LlamaModel::forward_stage(const ForwardBatch& batch, std::span<const float> hidden_in,
                                 std::vector<float>& out) {
  std::vector<int32_t> no_tokens;
  return run_step(batch, hidden_in, {}, {}, out, no_tokens);
}

bool LlamaModel::samples_on_device() const {
  return backend_.device_kind() != DeviceKind::kCpu && comm_->world_size() == 1 && shard_.first_stage() &&
         shard_.last_stage();
}

Status LlamaModel::forward_sampled(const ForwardBatch& batch, std::span<const TokenSampling> sampling,
                                   std::vector<int32_t>& tokens, std::span<const int32_t> host_rows,
                                   std::vector<float>& host_logits) {
  LLM_CHECK(samples_on_device(), "forward_sampled on a runner that samples on the host");
  LLM_CHECK(sampling.size() == batch.logit_rows.size() && !sampling.empty(), "forward_sampled: ", sampling.size(),
            " sampling records for ", batch.logit_rows.size(), " logit rows");
  for (size_t i = 0; i < host_rows.size(); ++i) {
    LLM_CHECK(host_rows[i] >= 0 && host_rows[i] < static_cast<int32_t>(sampling.size()) &&
                  (i == 0 || host_rows[i] > host_rows[i - 1]),
              "forward_sampled: host row ", host_rows[i], " of ", sampling.size());
  }
  return run_step(batch, {}, sampling, host_rows, host_logits, tokens);
}

Status LlamaModel::run_step(const ForwardBatch& batch, std::span<const float> hidden_in,
                            std::span<const TokenSampling> sampling, std::span<const int32_t> host_rows,
                            std::vector<float>& out, std::vector<int32_t>& tokens) {
  const LlamaConfig& c = config_;
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t n_seqs = static_cast<int64_t>(batch.query_start.size()) - 1;
  LLM_CHECK(n > 0 && n_seqs > 0 && batch.positions.size() == batch.tokens.size() &&
                batch.slots.size() == batch.tokens.size() && batch.max_blocks_per_seq >= 0 &&
                static_cast<int64_t>(batch.block_tables.size()) == n_seqs * batch.max_blocks_per_seq,
            "malformed batch: ", n, " tokens, ", n_seqs, " sequences");
  LLM_CHECK(shard_.first_stage() || static_cast<int64_t>(hidden_in.size()) == n * c.dim, "stage ", shard_.pp_stage,
            ": hidden_in has ", hidden_in.size(), " floats, expected ", n * c.dim);
  const int64_t n_out = shard_.last_stage() ? static_cast<int64_t>(batch.logit_rows.size()) : 0;
  LLM_CHECK(kv_options_.n_blocks > 0, "forward before the KV pool was allocated");

  // Decode steps on one device replay a recording of the whole step: the indices are copied into
  // the recording's fixed buffer, then every kernel runs with one launch.
  const bool recordable = backend_.can_record() && comm_->world_size() == 1 && shard_.first_stage() &&
                          shard_.last_stage() && n == n_seqs && n <= kMaxRecordedRows && n_out > 0;
  const auto n_sampled = static_cast<int64_t>(sampling.size());
  // One rank's outputs: every logit row, or (sampled) the ids and the logit rows of the sequences
  // picked on the host. Sampling runs on one rank only, so local_logits is the whole vocabulary.
  auto read_outputs = [&](const StepViews& views) {
    if (n_sampled == 0) {
      out.resize(static_cast<size_t>(n_out * c.vocab_size));
      backend_.copy_to_host(out.data(), views.local_logits);
      return;
    }
    tokens.resize(static_cast<size_t>(n_sampled));
    backend_.copy_to_host(tokens.data(), views.sampled);
    // Each run of consecutive host rows in one copy (each copy waits for the device).
    out.resize(host_rows.size() * static_cast<size_t>(c.vocab_size));
    for (size_t i = 0; i < host_rows.size();) {
      size_t end = i + 1;
      while (end < host_rows.size() && host_rows[end] == host_rows[end - 1] + 1) ++end;
      const TensorView rows{static_cast<float*>(views.local_logits.data) + host_rows[i] * c.vocab_size, DType::kF32,
                            Shape{static_cast<int64_t>(end - i), c.vocab_size}};
      backend_.copy_to_host(out.data() + i * static_cast<size_t>(c.vocab_size), rows);
      i = end;
    }
  };
  if (recordable) {
    StepShape shape = step_shape(n, n_seqs, recorded_table_width(batch.max_blocks_per_seq), n_out, n_sampled);
    if (StepRecordingSlot* slot = find_or_record(shape)) {
      std::vector<int32_t> packed = pack_indices(batch, sampling, shape);
      backend_.copy_from_host(slot->views.indices, packed.data());
      backend_.replay(*slot->recording);
      read_outputs(slot->views);
      return {};
    }
  }

  StepShape shape = step_shape(n, n_seqs, batch.max_blocks_per_seq, n_out, n_sampled);
  if (step_workspace_.bytes() < shape.bytes()) {
    step_workspace_ = Buffer();  // back to the allocator first: the two need not fit at once
    Result<Buffer> workspace = backend_.allocate(shape.bytes());
    if (!workspace) return workspace.error();
    step_workspace_ = std::move(*workspace);
  }
  StepViews views = carve_step(shape, step_workspace_.data());
  std::vector<int32_t> packed = pack_indices(batch, sampling, shape);
  backend_.copy_from_host(views.indices, packed.data());
  if (!shard_.first_stage()) backend_.copy_from_host(views.x, hidden_in.data());
  Status status = enqueue_step(shape, views);
  if (!status) return status;
  if (!shard_.last_stage()) {  // hand the residual stream to the next stage
    out.resize(static_cast<size_t>(n * c.dim));
    backend_.copy_to_host(out.data(), views.x);
    return {};
  }
  out.clear();
  if (n_out == 0) return {};
  if (comm_->world_size() == 1) {
    read_outputs(views);
    return {};
  }
  out.resize(static_cast<size_t>(n_out * c.vocab_size));
  std::vector<float> flat(static_cast<size_t>(n_out * c.vocab_size));
  backend_.copy_to_host(flat.data(), views.all_logits);
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

// Enqueues the step's ops over views whose indices (and, after the first stage, x) are in place;
// waits for nothing, so it can be recorded.
Status LlamaModel::enqueue_step(const StepShape& shape, const StepViews& views) {
  const LlamaConfig& c = config_;
  const int64_t n = shape.n, n_out = shape.n_out;
  const int64_t n_heads = shard_.q_heads.size(), n_kv_heads = shard_.kv_heads.size();
  const TensorView &x = views.x, &h = views.h, &q = views.q, &k = views.k, &v = views.v, &gate = views.gate;
  const TensorView inv_freq = rope_inv_freq_.view(DType::kF32, {c.head_dim / 2});
  const float eps = static_cast<float>(c.norm_eps);
  Communicator& comm = *comm_;
  Status status;

  if (shard_.first_stage()) {
    // Vocab-parallel: each rank embeds the ids in its rows (zeros elsewhere); the sum is the embedding.
    backend_.embedding(weights_.token_embedding, views.tokens, x, shard_.vocab.begin);
    if (!(status = comm.all_reduce_sum(x))) return status;
  }
  // Each sublayer's residual add is fused with the norm that follows it (the next sublayer's
  // input norm); only the stage's first norm and last add stand alone.
  const size_t n_layers = weights_.layers.size();
  // The norms write the products' input: h (f32), or views.normed in the device's operand type.
  const TensorView& normed = views.normed;
  if (n_layers > 0) backend_.rms_norm(x, weights_.layers[0].attention_norm, eps, normed);
  for (size_t layer = 0; layer < n_layers; ++layer) {
    const LayerWeights& w = weights_.layers[layer];
    const KvCacheView& cache = kv_layers_[layer];
    const StackedLayer stacked = layer < stacked_.size() ? stacked_[layer] : StackedLayer{};
    // Attention block: x += wo(attention(rope(wq h), rope(wk h), wv h)), h = norm(x) on entry.
    // Each rank attends with its heads; wo (row-parallel) gives partial sums over heads, all-reduced.
    backend_.qkv_projection(normed, QkvWeights{w.wq, w.wk, w.wv, stacked.qkv}, q, k, v);
    TensorView q_heads = q.reshape({n, n_heads, c.head_dim});
    backend_.rope_kv_write(q_heads, k.reshape({n, n_kv_heads, c.head_dim}), v.reshape({n, n_kv_heads, c.head_dim}),
                           views.positions, inv_freq, rope_layout_, cache, views.slots);
    backend_.paged_attention(q_heads, cache, views.attention, views.attn.reshape({n, n_heads, c.head_dim}));
    backend_.linear(views.attn, w.wo, h);
    if (!(status = comm.all_reduce_sum(h))) return status;
    backend_.add_rms_norm(x, h, w.ffn_norm, eps, normed);  // x += h; normed = norm(x)
    // Feed-forward block: x += w2(silu(w1 h) * w3 h). Each rank runs its ffn slice; w2
    // (row-parallel) gives partial sums, all-reduced.
    backend_.feed_forward(normed, FeedForwardWeights{w.w1, w.w3, w.w2, stacked.gate_up}, gate, views.up, h);
    if (!(status = comm.all_reduce_sum(h))) return status;
    if (layer + 1 < n_layers) {
      backend_.add_rms_norm(x, h, weights_.layers[layer + 1].attention_norm, eps, normed);
    } else {
      backend_.add(x, h, x);
    }
  }
  // Only the requested rows go through the final norm and the (large) output projection (none
  // for a prefill chunk that is not a prompt's last; every rank sees the same batch, so all skip).
  if (!shard_.last_stage() || n_out == 0) return {};
  backend_.gather_rows(x, views.logit_rows, views.last);
  backend_.rms_norm(views.last, weights_.output_norm, eps, views.last);
  backend_.linear(views.last, weights_.output, views.local_logits);  // vocab-parallel: this rank's columns
  if (comm.world_size() > 1 && !(status = comm.all_gather(views.local_logits, views.all_logits))) return status;
  if (shape.n_sampled > 0) backend_.sample(views.local_logits, views.sampling, views.sampled);  // one rank: whole vocab
  return {};
}

}  // namespace llm
