// The Llama forward pass over a paged KV cache, written against the Backend op list.
// One call runs one step: the tokens of any number of sequences (prefill chunks and decode
// tokens alike), each attending to its own cached positions.
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"
#include "model/loader.h"
#include "model/model_runner.h"

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

class LlamaModel final : public ModelRunner {
 public:
  // Places the weights on the backend's device (zero copy on the CPU) and allocates the KV pool.
  static Result<std::unique_ptr<LlamaModel>> create(Backend& backend, const LoadedModel& model,
                                                    const KvCacheOptions& kv_options);

  const LlamaConfig& config() const override { return config_; }
  const KvCacheOptions& kv_options() const { return kv_options_; }

  // Runs the step; logits gets [logit_rows.size(), vocab] floats.
  Status forward(const ForwardBatch& batch, std::vector<float>& logits) override;

 private:
  LlamaModel(Backend& backend, const LoadedModel& model, const KvCacheOptions& kv_options);
  Status upload_weights(const LoadedModel& model);
  TensorView upload_ints(const std::vector<int32_t>& values, Shape shape, Buffer& holder);

  Backend& backend_;
  LlamaConfig config_;
  RopeLayout rope_layout_;
  KvCacheOptions kv_options_;
  LlamaWeights weights_;               // device views
  std::vector<Buffer> weight_buffers_;  // device copies when the backend is not the host
  Buffer rope_inv_freq_;               // f32 [head_dim / 2]
  std::vector<Buffer> kv_buffers_;     // per layer: k then v
  std::vector<KvCacheView> kv_layers_;  // [n_layers]
};

}  // namespace llm
