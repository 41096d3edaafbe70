// The Llama forward pass over a paged KV cache, written against the Backend op list and a
// Communicator. One call runs one step: the tokens of any number of sequences (prefill chunks
// and decode tokens alike), each attending to its own cached positions.
//
// One code path for every layout: a LlamaModel is one rank's shard (its heads, kv heads, ffn
// slice, vocab slice and pipeline layers), and the collectives are called visibly in forward.
// A single device is the TP=1, PP=1 case with a LocalCommunicator (all collectives no-ops).
#pragma once

#include <map>
#include <memory>
#include <tuple>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "dist/communicator.h"
#include "model/loader.h"
#include "model/model_runner.h"
#include "model/shard.h"
#include "model/tensor_parallel.h"

namespace llm {

struct KvCacheOptions {
  int32_t n_blocks = 0;  // 0: none yet; the caller sizes the pool later (allocate_kv_cache)
  int32_t block_size = 16;
  DType dtype = DType::kF32;  // f32 | f16 | bf16
};

// Host-side description of one step. Token i of the step belongs to the sequence s with
// query_start[s] <= i < query_start[s + 1].
struct ForwardBatch {
  std::vector<int32_t> tokens;        // [n_tokens]
  std::vector<int32_t> positions;     // [n_tokens] absolute positions
  std::vector<int32_t> slots;         // [n_tokens] KV slot each token writes (block * block_size + offset)
  std::vector<int32_t> query_start;   // [n_seqs + 1]
  std::vector<int32_t> block_tables;  // [n_seqs, max_blocks_per_seq], row-major
  int32_t max_blocks_per_seq = 0;
  std::vector<int32_t> logit_rows;    // step rows whose logits are returned, e.g. each sequence's last
};

// One rank of a (possibly) parallel model.
struct RankContext {
  Backend& backend;       // the rank's device
  Communicator& comm;     // the rank's tensor-parallel group (its pipeline stage's ranks)
  ParallelLayout layout;  // of the whole model
  int tp_rank = 0;
  int pp_stage = 0;
};

class LlamaModel final : public ModelRunner {
 public:
  // The whole model on one device (TP=1, PP=1).
  static Result<std::unique_ptr<LlamaModel>> create(Backend& backend, const LoadedModel& model,
                                                    const KvCacheOptions& kv_options);
  // One rank's shard: builds its weights from the checkpoint (only the bytes it needs), places
  // them on its device, and allocates the KV pool of its layers and kv heads.
  static Result<std::unique_ptr<LlamaModel>> create_rank(const RankContext& rank, const LoadedModel& model,
                                                         const KvCacheOptions& kv_options);

  const LlamaConfig& config() const override { return config_; }
  const KvCacheOptions& kv_options() const { return kv_options_; }
  const RankShard& shard() const { return shard_; }
  int64_t host_copied_bytes() const { return host_copied_bytes_; }

  // ---- KV pool sizing (model/kv_sizing.h drives these) ----
  // Bytes one KV block takes on this rank: K and V of every layer of its stage, its kv heads.
  int64_t kv_bytes_per_block() const;
  // Replaces the KV pool by one of n_blocks (0: none). Cached contents are lost.
  Status allocate_kv_cache(int32_t n_blocks);
  // Runs one step of `rows` tokens of one sequence (positions 0..rows-1; the pool must hold them)
  // with `logit_rows` logit rows, so that the backend's memory shows the largest step's peak.
  Status run_profile_step(int64_t rows, int64_t logit_rows);
  // Device memory that recorded decode steps (CUDA graphs) may take on top of eager steps: each
  // recording owns its activations, and a step of up to max_rows rows is recorded.
  int64_t recorded_steps_reserve_bytes(int64_t max_rows) const;

  // The whole model (one pipeline stage): logits gets [logit_rows.size(), vocab] floats.
  Status forward(const ForwardBatch& batch, std::vector<float>& logits) override;
  // On a device with memory of its own and a single rank (the logits of every vocab slice on it).
  bool samples_on_device() const override;
  Status forward_sampled(const ForwardBatch& batch, std::span<const TokenSampling> sampling,
                         std::vector<int32_t>& tokens, std::span<const int32_t> host_rows,
                         std::vector<float>& host_logits) override;

  // This rank's pipeline stage. The first stage embeds batch.tokens; later ones start from
  // hidden_in (f32 [n_tokens, dim], the previous stage's output). The last stage writes logits
  // [logit_rows.size(), vocab] to `out`; earlier ones the hidden state [n_tokens, dim].
  Status forward_stage(const ForwardBatch& batch, std::span<const float> hidden_in, std::vector<float>& out);

 private:
  LlamaModel(Backend& backend, Communicator& comm, const LoadedModel& model, const RankShard& shard,
             const KvCacheOptions& kv_options);
  Status place_weights(ShardWeights host);
  // One weight of a stacked group and, for a synthetic model, the block to make there.
  struct StackedPart {
    TensorView* view;
    const std::optional<SyntheticFill>* fill;
  };
  // Uploads `parts` (same dtype and columns) as consecutive rows of one device buffer and points
  // each view at its rows; returns the view of all rows, or an empty view when they cannot share
  // one buffer (then nothing is uploaded).
  Result<TensorView> upload_stacked(std::initializer_list<StackedPart> parts);
  // A slot's contents into memory the device reads: the host copy, or made there (synthetic).
  void write_weight(TensorView device, const TensorView& host_view, const std::optional<SyntheticFill>& fill);
  std::optional<DType> shared_product_dtype() const;

  // One step's sizes: activations (f32), the uploaded indices (i32), then the sampled ids (i32)
  // in one device allocation.
  struct StepShape {
    int64_t n = 0, n_seqs = 0, table_width = 0, n_out = 0;
    int64_t n_sampled = 0;  // logit rows sampled on the device: 0 or n_out
    DType operand = DType::kF32;  // what the norms write for the products (Backend::operand_dtype)
    int64_t floats = 0;     // activations; even, so the indices start 8-byte aligned
    int64_t ints = 0;       // sampling params, tokens, positions, slots, query_start, block_tables, logit_rows
    int64_t bytes() const { return (floats + ints + n_sampled) * 4; }
  };
  // Device views of one step's activations and indices, carved from that allocation.
  struct StepViews {
    TensorView x, h;               // f32 [n, dim]: residual stream; normed input / partial output
    TensorView normed;             // [n, dim]: the products' normed input, h itself when f32
    TensorView q, attn;            // f32 [n, q_dim] (this rank's heads)
    TensorView k, v;               // f32 [n, kv_dim] (this rank's kv heads)
    TensorView gate, up;           // f32 [n, ffn_dim] (this rank's ffn slice)
    TensorView last;               // f32 [n_out, dim]
    TensorView local_logits;       // f32 [n_out, this rank's vocab slice]
    TensorView all_logits;         // f32 [n_out * vocab], every rank's slice in rank order
    TensorView indices;            // i32 [ints]: all of the below, uploaded with one copy
    TensorView sampling;           // i32 [n_sampled, 6]: TokenSampling records (8-byte aligned)
    TensorView tokens, positions;  // i32 [n]
    TensorView slots;              // i32 [n]
    AttentionBatch attention;      // query_start [n_seqs + 1], block_tables [n_seqs, table_width]
    TensorView logit_rows;         // i32 [n_out]
    TensorView sampled;            // i32 [n_sampled]: the picked tokens (written by the step)
  };
  // A recorded decode step and the memory it runs in; recording == nullptr: not recordable.
  struct StepRecordingSlot {
    std::unique_ptr<StepRecording> recording;
    Buffer memory;
    StepViews views;
  };
  StepShape step_shape(int64_t n, int64_t n_seqs, int64_t table_width, int64_t n_out, int64_t n_sampled) const;
  StepViews carve_step(const StepShape& shape, void* base) const;
  std::vector<int32_t> pack_indices(const ForwardBatch& batch, std::span<const TokenSampling> sampling,
                                    const StepShape& shape) const;
  // forward_stage, with the logit rows sampled on the device when `sampling` is not empty: then
  // `tokens` gets the ids and `out` only the logit rows listed in host_rows.
  Status run_step(const ForwardBatch& batch, std::span<const float> hidden_in, std::span<const TokenSampling> sampling,
                  std::span<const int32_t> host_rows, std::vector<float>& out, std::vector<int32_t>& tokens);
  Status enqueue_step(const StepShape& shape, const StepViews& views);
  StepRecordingSlot* find_or_record(const StepShape& shape);

  Backend& backend_;
  std::unique_ptr<Communicator> own_comm_;  // the LocalCommunicator of create()
  Communicator* comm_;
  LlamaConfig config_;
  RopeLayout rope_layout_;
  RankShard shard_;
  KvCacheOptions kv_options_;
  LlamaWeights weights_;                // device views of this rank's shard
  ShardWeights host_weights_;           // kept on the CPU, where host memory is device memory
  std::vector<Buffer> weight_buffers_;  // device copies when the backend is not the host
  // Per layer, on devices other than the host: wq|wk|wv and w1|w3 stacked by rows in one buffer
  // (weights_ views point into them), so a one-token step reads each group with one GEMV.
  // data == nullptr where a group could not be stacked (mixed dtypes, unaligned rows).
  struct StackedLayer {
    TensorView qkv;      // [q_dim + 2 * kv_dim, dim]
    TensorView gate_up;  // [2 * ffn_dim, dim]
  };
  std::vector<StackedLayer> stacked_;
  // The dtype of every layer's products (wq..w2) when they share one, which the norms may then
  // write their output in (Backend::operand_dtype); nullopt when they differ.
  std::optional<DType> product_dtype_;
  int64_t host_copied_bytes_ = 0;
  Buffer rope_inv_freq_;                // f32 [head_dim / 2]
  Buffer kv_pool_;                      // every layer's k then v, in one allocation
  std::vector<KvCacheView> kv_layers_;  // [stage layers], each [n_blocks, block_size, rank's kv heads, head_dim]
  // Eager steps run in one workspace that grows to the largest step seen (the profiling step
  // makes it that size at once): steps of every size in between reuse it, so a caching
  // allocator never holds one block per step size.
  Buffer step_workspace_;
  // Recorded decode steps by (n, n_seqs, table_width, n_out, n_sampled).
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>, StepRecordingSlot> step_recordings_;
};

}  // namespace llm
