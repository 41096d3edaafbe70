// The Llama forward pass over a paged KV cache, written against the Backend op list and a
// Communicator. One call runs one step: the tokens of any number of sequences (prefill chunks
// and decode tokens alike), each attending to its own cached positions.
//
// One code path for every layout: a LlamaModel is one rank's shard (its heads, kv heads, ffn
// slice, vocab slice and pipeline layers), and the collectives are called visibly in forward.
// A single device is the TP=1, PP=1 case with a LocalCommunicator (all collectives no-ops).
#pragma once

#include <memory>
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
  int32_t n_blocks = 0;
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

  // The whole model (one pipeline stage): logits gets [logit_rows.size(), vocab] floats.
  Status forward(const ForwardBatch& batch, std::vector<float>& logits) override;

  // This rank's pipeline stage. The first stage embeds batch.tokens; later ones start from
  // hidden_in (f32 [n_tokens, dim], the previous stage's output). The last stage writes logits
  // [logit_rows.size(), vocab] to `out`; earlier ones the hidden state [n_tokens, dim].
  Status forward_stage(const ForwardBatch& batch, std::span<const float> hidden_in, std::vector<float>& out);

 private:
  LlamaModel(Backend& backend, Communicator& comm, const LoadedModel& model, const RankShard& shard,
             const KvCacheOptions& kv_options);
  Status place_weights(ShardWeights host);
  TensorView upload_ints(const std::vector<int32_t>& values, Shape shape, Buffer& holder);

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
  int64_t host_copied_bytes_ = 0;
  Buffer rope_inv_freq_;                // f32 [head_dim / 2]
  std::vector<Buffer> kv_buffers_;      // per layer: k then v
  std::vector<KvCacheView> kv_layers_;  // [stage layers], each [n_blocks, block_size, rank's kv heads, head_dim]
};

}  // namespace llm
