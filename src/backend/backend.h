// Backend: the op list every device implements. Public op methods check shapes and dtypes once
// (LLM_CHECK: a mismatch is a bug in the caller, never user input), then call the device's
// implementation. Model code sees only this header: no CUDA, no SIMD.
//
// Conventions: activations are f32 [rows, columns] row-major; weights may be any DType
// (dense or quantized, used in their stored form); index tensors are i32. All TensorViews
// handed to an op live in this backend's memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "backend/synthetic_fill.h"
#include "core/tensor.h"
#include "util/check.h"
#include "util/result.h"

namespace llm {

enum class DeviceKind { kCpu, kCuda };

// Which pairs of a head's dims RoPE rotates together. Meta .pth and GGUF store Q/K so that
// pairs are adjacent (2i, 2i+1); Hugging Face permutes them to (i, i + head_dim/2).
enum class RopeLayout { kInterleaved, kHalfSplit };

// Owned device memory. Moves only; frees on destruction.
class Buffer {
 public:
  Buffer() = default;
  Buffer(void* data, int64_t bytes, std::function<void(void*)> release)
      : data_(data), bytes_(bytes), release_(std::move(release)) {}
  Buffer(Buffer&& other) noexcept { *this = std::move(other); }
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      reset();
      data_ = other.data_;
      bytes_ = other.bytes_;
      release_ = std::move(other.release_);
      other.data_ = nullptr;
      other.bytes_ = 0;
    }
    return *this;
  }
  ~Buffer() { reset(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  int64_t bytes() const { return bytes_; }
  TensorView view(DType dtype, Shape shape) const;

 private:
  void reset() {
    if (data_ != nullptr && release_) release_(data_);
    data_ = nullptr;
    bytes_ = 0;
  }
  void* data_ = nullptr;
  int64_t bytes_ = 0;
  std::function<void(void*)> release_;
};

// One layer's paged KV cache: the pool of blocks for K and for V.
struct KvCacheView {
  TensorView k;  // [n_blocks, block_size, n_kv_heads, head_dim], f32 | f16 | bf16
  TensorView v;  // same shape and dtype as k
};

// The sequences of one step, for paged attention. Query rows of sequence s are
// [query_start[s], query_start[s+1]); query row i sits at absolute position positions[i] and
// attends causally to KV positions 0..positions[i] of its sequence, found through its block table
// (position p lives in block block_tables[s, p / block_size], slot p % block_size).
struct AttentionBatch {
  TensorView query_start;   // i32 [n_seqs + 1], query_start[0] == 0, non-decreasing
  TensorView positions;     // i32 [n_tokens]
  TensorView block_tables;  // i32 [n_seqs, max_blocks_per_seq]
  float scale = 1.0f;       // softmax scale, 1/sqrt(head_dim) for Llama
};

// A layer's attention input projections. stacked, when not empty, is wq|wk|wv in one buffer
// [q_dim + 2 kv_dim, dim] (the same bytes as the three views).
struct QkvWeights {
  TensorView wq, wk, wv, stacked;
};

// A layer's feed-forward: w2 (silu(w1 x) * w3 x). gate_up, when not empty, is w1|w3 in one buffer
// [2 ffn, dim] (the same bytes as w1 and w3).
struct FeedForwardWeights {
  TensorView w1, w3, w2, gate_up;
};

// A device's memory as its driver reports it (all processes' allocations count as used).
struct DeviceMemory {
  int64_t total_bytes = 0;
  int64_t free_bytes = 0;
  int64_t host_mapped_bytes = 0;  // host memory this backend holds from allocate_host_mapped
};

// Ops recorded once and replayed with one call (a CUDA graph). Made by Backend::end_recording,
// owned by the caller, replayed only on the backend that made it.
class StepRecording {
 public:
  virtual ~StepRecording() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual DeviceKind device_kind() const = 0;
  virtual std::string name() const = 0;

  // ---- memory ------------------------------------------------------------------------------
  // Allocation failure is an expected outcome (memory planning), not a crash.
  virtual Result<Buffer> allocate(int64_t bytes) = 0;
  virtual void copy_from_host(TensorView dst, const void* src) = 0;  // dst.bytes() bytes
  virtual void copy_to_host(void* dst, TensorView src) = 0;          // src.bytes() bytes
  virtual void synchronize() = 0;
  // The device's total and free memory, for sizing the KV cache; kUnsupported where the device
  // shares the host's memory (the CPU).
  virtual Result<DeviceMemory> device_memory() const {
    return make_error(ErrorCode::kUnsupported, name() + ": no separate device memory");
  }
  // Host memory this device's ops read in place (pinned and mapped into the device's address
  // space), for tables of which a step reads only a few rows: the token embedding then costs no
  // device memory. kUnsupported where the device has no memory of its own (the CPU: the host
  // copy is already the device copy) or cannot map host memory; the caller then uses allocate.
  virtual Result<Buffer> allocate_host_mapped(int64_t bytes) {
    return make_error(ErrorCode::kUnsupported, name() + ": no host-mapped memory");
  }
  // Hands memory that the backend keeps cached for reuse back to the driver, so that
  // device_memory() shows what is really held. Memory in use is untouched.
  virtual void release_cached_memory() {}

  // ---- recording (optional) ----------------------------------------------------------------
  // Ops enqueued between begin_recording and end_recording are recorded, not run; nothing may
  // wait for the device in between (no copy_to_host, no synchronize). A replay reads and writes
  // exactly the memory the recorded ops were given, so the caller keeps those buffers alive and
  // fixed and changes only their contents (copy_from_host, enqueued before replay). Scratch the
  // ops take while recording belongs to the recording. Devices that cannot record return false
  // from can_record and are never asked to.
  virtual bool can_record() const { return false; }
  virtual void begin_recording() { LLM_CHECK(false, name(), ": cannot record ops"); }
  // An error (the device refused the recording) leaves the backend ready to run ops again.
  virtual Result<std::unique_ptr<StepRecording>> end_recording() {
    LLM_CHECK(false, name(), ": cannot record ops");
    return make_error(ErrorCode::kUnsupported, "recording");
  }
  virtual void replay(StepRecording&) { LLM_CHECK(false, name(), ": cannot replay recorded ops"); }

  // ---- ops ---------------------------------------------------------------------------------
  // out[i, :] = float(table[ids[i] - first_row, :]) for ids in [first_row, first_row + rows), else
  // zeros (a vocab-parallel rank holds rows [first_row, first_row + rows) of the whole table; the
  // ranks' outputs are summed). table [rows, dim] any dtype; ids i32 [n]; out f32 [n, dim].
  // With first_row 0 and the whole table, an id outside [0, vocab) is a caller bug (ids are
  // validated when requests are admitted).
  void embedding(TensorView table, TensorView ids, TensorView out, int64_t first_row = 0);

  // The type this device rounds a [rows, k] activation to for a product with weights of
  // weight_dtype: f32 (no rounding) or the weights' half type (tensor cores). A norm may write
  // its output in that type (rms_norm, add_rms_norm), and qkv_projection and feed_forward take
  // it, so the rounding is not a pass of its own.
  virtual DType operand_dtype(int64_t /*rows*/, DType /*weight_dtype*/) const { return DType::kF32; }

  // out = x * rsqrt(mean(x^2) + eps) * weight, per row.  x f32 [n, dim]; out [n, dim] f32 (may
  // alias x) or operand_dtype's half type (rounded to nearest even); weight [dim] f32 | f16 | bf16.
  void rms_norm(TensorView x, TensorView weight, float eps, TensorView out);

  // x += residual, then out = rms_norm(x): the residual add and the next sublayer's norm in one
  // pass. x, residual f32 [n, dim]; out as rms_norm's (an f32 out may alias residual, not x).
  void add_rms_norm(TensorView x, TensorView residual, TensorView weight, float eps, TensorView out);

  // out = x @ weight^T.  x f32 [n, k]; weight [m, k] any dtype; out f32 [n, m].
  void linear(TensorView x, TensorView weight, TensorView out);

  // q = x wq^T, k = x wk^T, v = x wv^T. x f32 [n, dim], or operand_dtype(n, wq.dtype) when that
  // is a half type; q, k, v f32 [n, *]. Devices that round x for their matrix units do it once for
  // the three products; a one-row step whose q, k and v lie back to back takes the stacked weight
  // in one pass.
  void qkv_projection(TensorView x, const QkvWeights& w, TensorView q, TensorView k, TensorView v);

  // out = w2 (silu(w1 x) * w3 x). x f32 [n, dim] (or operand_dtype(n, w1.dtype), as for
  // qkv_projection); out f32 [n, dim] (may alias an f32 x); gate and up f32 [n, ffn]
  // workspaces whose contents are left undefined. A device may keep the [n, ffn] intermediates in
  // the weights' half type (as a bf16 model does everywhere), which is why this is one op.
  void feed_forward(TensorView x, const FeedForwardWeights& w, TensorView gate, TensorView up, TensorView out);

  // Rotates each head of x in place by angle positions[i] * inv_freq[j] for pair j.
  // x f32 [n, n_heads, head_dim]; positions i32 [n]; inv_freq f32 [head_dim / 2].
  void rope(TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout);

  // Writes token i's K and V into slot slots[i] (= block * block_size + offset) of the cache.
  // k, v f32 [n, n_kv_heads, head_dim]; slots i32 [n].
  void kv_write(TensorView k, TensorView v, KvCacheView cache, TensorView slots);

  // rope(q), rope(k), then kv_write(k, v, cache, slots) (q and k are rotated in place), in one
  // pass where the device can: the attention block's step between its projections and attention.
  void rope_kv_write(TensorView q, TensorView k, TensorView v, TensorView positions, TensorView inv_freq,
                     RopeLayout layout, KvCacheView cache, TensorView slots);

  // Causal attention of each query row over its sequence's paged KV (see AttentionBatch).
  // q f32 [n, n_heads, head_dim]; out f32 [n, n_heads, head_dim]; n_heads % n_kv_heads == 0
  // (grouped-query attention: query head h reads KV head h / (n_heads / n_kv_heads)).
  void paged_attention(TensorView q, KvCacheView cache, const AttentionBatch& batch, TensorView out);

  // out = silu(gate) * up.  All f32 [n, f]; out may alias gate or up.
  void silu_mul(TensorView gate, TensorView up, TensorView out);

  // out = a + b.  All f32, same shape; out may alias a or b.
  void add(TensorView a, TensorView b, TensorView out);

  // out[i, :] = x[rows[i], :].  x f32 [n, d]; rows i32 [m]; out f32 [m, d].
  void gather_rows(TensorView x, TensorView rows, TensorView out);

  // out[i] = pick_token(logits[i, :], params[i]) (backend/sampling.h): each row's next token, so
  // only ids leave the device. logits f32 [n, vocab]; params i32 [n, 6] holding the bytes of n
  // TokenSampling records (uniforms drawn by the caller); out i32 [n].
  void sample(TensorView logits, TensorView params, TensorView out);

  // Writes the block `fill` describes (backend/synthetic_fill.h) into out, made in place: random
  // weights for benchmarks with no file. out [rows, columns] or [columns], f32 | f16 | bf16
  // (rounded to nearest even), in this backend's memory or its host-mapped memory.
  void fill_synthetic(TensorView out, const SyntheticFill& fill);

 protected:
  virtual void do_embedding(TensorView table, TensorView ids, TensorView out, int64_t first_row) = 0;
  virtual void do_rms_norm(TensorView x, TensorView weight, float eps, TensorView out) = 0;
  virtual void do_linear(TensorView x, TensorView weight, TensorView out) = 0;
  virtual void do_rope(TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout) = 0;
  virtual void do_kv_write(TensorView k, TensorView v, KvCacheView cache, TensorView slots) = 0;
  virtual void do_paged_attention(TensorView q, KvCacheView cache, const AttentionBatch& batch, TensorView out) = 0;
  virtual void do_silu_mul(TensorView gate, TensorView up, TensorView out) = 0;
  virtual void do_add(TensorView a, TensorView b, TensorView out) = 0;
  virtual void do_gather_rows(TensorView x, TensorView rows, TensorView out) = 0;
  virtual void do_sample(TensorView logits, TensorView params, TensorView out) = 0;
  virtual void do_fill_synthetic(TensorView out, const SyntheticFill& fill) = 0;
  // Fused ops: by default the ops they fuse, one after the other (the slow twin of a device's
  // fused kernel, and the same arithmetic).
  virtual void do_add_rms_norm(TensorView x, TensorView residual, TensorView weight, float eps, TensorView out) {
    do_add(x, residual, x);
    do_rms_norm(x, weight, eps, out);
  }
  virtual void do_rope_kv_write(TensorView q, TensorView k, TensorView v, TensorView positions, TensorView inv_freq,
                                RopeLayout layout, KvCacheView cache, TensorView slots) {
    do_rope(q, positions, inv_freq, layout);
    do_rope(k, positions, inv_freq, layout);
    do_kv_write(k, v, cache, slots);
  }
  virtual void do_qkv_projection(TensorView x, const QkvWeights& w, TensorView q, TensorView k, TensorView v);
  virtual void do_feed_forward(TensorView x, const FeedForwardWeights& w, TensorView gate, TensorView up,
                               TensorView out);
};

}  // namespace llm
