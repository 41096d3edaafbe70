// CudaBackend: memory (caching pool), copies, and each op routed to its kernel or to cuBLASLt.
// One stream per backend; every op is enqueued on it, so nothing here waits for the device
// except copy_to_host and synchronize. Recording is stream capture into a CUDA graph.
#include "backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_pool.h"
#include "backend/cuda/kernels/kernels.h"
#include "backend/cuda/lt_gemm.h"
#include "util/str.h"

namespace llm {
namespace {

using cuda::check_cuda;

constexpr size_t kGemmWorkspaceBytes = 32u << 20;  // cuBLASLt's split-K / stream-K scratch
// Uploads of at least this size are staged through pinned buffers (weights; not a step's indices).
constexpr int64_t kStagedCopyMinBytes = 1 << 20;
constexpr int kStagingBuffers = 3;
constexpr int64_t kStagingBytes = 16 << 20;

bool is_half(DType dtype) { return dtype == DType::kF16 || dtype == DType::kBF16; }

// A captured CUDA graph and the scratch blocks its kernels use, kept out of the pool for as long
// as the graph may be replayed. The captured ops run one after another, so an op's scratch block
// is handed to later ops of the same recording once that op has been captured, as the pool does
// for eager ops.
class CudaStepRecording final : public StepRecording {
 public:
  ~CudaStepRecording() override {
    if (exec != nullptr) cudaGraphExecDestroy(exec);
  }

  // A block of at least `bytes` not in use by an op being captured, or nullptr.
  Buffer* reuse(int64_t bytes) {
    for (size_t i = 0; i < scratch.size(); ++i) {
      if (!in_use[i] && scratch[i].bytes() >= bytes) return take(i);
    }
    return nullptr;
  }
  Buffer* add(Buffer block) {
    scratch.push_back(std::move(block));
    in_use.push_back(false);
    return take(scratch.size() - 1);
  }
  // A non-owning handle on block i; destroying it frees the block for the next op.
  Buffer lend(Buffer* block) {
    const size_t i = static_cast<size_t>(block - scratch.data());
    return Buffer(block->data(), block->bytes(), [this, i](void*) { in_use[i] = false; });
  }

  cudaGraphExec_t exec = nullptr;

 private:
  Buffer* take(size_t i) {
    in_use[i] = true;
    return &scratch[i];
  }
  std::vector<Buffer> scratch;
  std::vector<bool> in_use;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(const CudaBackendOptions& options, const cudaDeviceProp& properties)
      : options_(options), properties_(properties), pool_(std::make_shared<cuda::DevicePool>(options.device_index)) {
    check_cuda(cudaSetDevice(options_.device_index), "cudaSetDevice");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check_cuda(cudaMalloc(&gemm_workspace_, kGemmWorkspaceBytes), "cudaMalloc(cuBLASLt workspace)");
    gemm_ = std::make_unique<cuda::LtGemm>(gemm_workspace_, kGemmWorkspaceBytes);
  }

  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    for (int i = 0; i < kStagingBuffers; ++i) {
      if (staging_[i] != nullptr) cudaFreeHost(staging_[i]);
      if (staging_done_[i] != nullptr) cudaEventDestroy(staging_done_[i]);
    }
    gemm_.reset();
    cudaFree(gemm_workspace_);
    cudaStreamDestroy(stream_);
  }

  DeviceKind device_kind() const override { return DeviceKind::kCuda; }
  std::string name() const override {
    return str("cuda:", options_.device_index, " (", properties_.name, options_.exact_fp32 ? ", f32 products" : "",
               ")");
  }

  Result<Buffer> allocate(int64_t bytes) override { return pool_->allocate(bytes); }

  // Tensor cores take half operands for more rows than the GEMV serves (see do_linear).
  DType operand_dtype(int64_t rows, DType weight_dtype) const override {
    return rows > cuda::kGemvMaxRows && !options_.exact_fp32 && is_half(weight_dtype) ? weight_dtype : DType::kF32;
  }

  // Pinned, mapped and portable (any device of the process may read it). Under unified
  // addressing (every 64-bit Linux driver) the host pointer is also the device's pointer.
  Result<Buffer> allocate_host_mapped(int64_t bytes) override {
    if (!properties_.canMapHostMemory || !properties_.unifiedAddressing) {
      return make_error(ErrorCode::kUnsupported, name() + ": cannot map host memory");
    }
    void* data = nullptr;
    const cudaError_t status =
        cudaHostAlloc(&data, static_cast<size_t>(bytes), cudaHostAllocMapped | cudaHostAllocPortable);
    if (status != cudaSuccess) {
      cudaGetLastError();
      return make_error(ErrorCode::kOutOfMemory,
                        str("pinned host memory of ", bytes, " bytes: ", cudaGetErrorString(status)));
    }
    *host_mapped_bytes_ += bytes;
    return Buffer(data, bytes, [counter = host_mapped_bytes_, bytes](void* p) {
      cudaFreeHost(p);
      *counter -= bytes;
    });
  }

  void copy_from_host(TensorView dst, const void* src) override {
    if (dst.bytes() == 0) return;
    if (dst.bytes() < kStagedCopyMinBytes || recording_ != nullptr) {
      check_cuda(cudaMemcpyAsync(dst.data, src, static_cast<size_t>(dst.bytes()), cudaMemcpyHostToDevice, stream_),
                 "cudaMemcpyAsync(host to device)");
      return;
    }
    staged_copy_from_host(static_cast<std::byte*>(dst.data), static_cast<const std::byte*>(src), dst.bytes());
  }

  void copy_to_host(void* dst, TensorView src) override {
    if (src.bytes() == 0) return;
    check_cuda(cudaMemcpyAsync(dst, src.data, static_cast<size_t>(src.bytes()), cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync(device to host)");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }

  // Large uploads (weights) go through pinned staging buffers in turn: the host copies chunk
  // i + 1 (from a file's mmap, page cache) while the DMA engine moves chunk i. A pageable
  // cudaMemcpyAsync would stage through the driver's own small buffers and wait for each.
  void staged_copy_from_host(std::byte* dst, const std::byte* src, int64_t bytes) {
    if (staging_[0] == nullptr) {
      for (int i = 0; i < kStagingBuffers; ++i) {
        check_cuda(cudaHostAlloc(&staging_[i], kStagingBytes, cudaHostAllocDefault), "cudaHostAlloc(staging)");
        check_cuda(cudaEventCreateWithFlags(&staging_done_[i], cudaEventDisableTiming), "cudaEventCreate");
        check_cuda(cudaEventRecord(staging_done_[i], stream_), "cudaEventRecord");
      }
    }
    for (int64_t offset = 0; offset < bytes; offset += kStagingBytes) {
      const size_t chunk = static_cast<size_t>(std::min<int64_t>(kStagingBytes, bytes - offset));
      const int i = next_staging_;
      next_staging_ = (next_staging_ + 1) % kStagingBuffers;
      check_cuda(cudaEventSynchronize(staging_done_[i]), "cudaEventSynchronize(staging)");  // its last DMA is done
      std::memcpy(staging_[i], src + offset, chunk);
      check_cuda(cudaMemcpyAsync(dst + offset, staging_[i], chunk, cudaMemcpyHostToDevice, stream_),
                 "cudaMemcpyAsync(staged host to device)");
      check_cuda(cudaEventRecord(staging_done_[i], stream_), "cudaEventRecord");
    }
  }

  void synchronize() override { check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

  Result<DeviceMemory> device_memory() const override {
    check_cuda(cudaSetDevice(options_.device_index), "cudaSetDevice");
    size_t free_bytes = 0, total_bytes = 0;
    check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    return DeviceMemory{.total_bytes = static_cast<int64_t>(total_bytes),
                        .free_bytes = static_cast<int64_t>(free_bytes),
                        .host_mapped_bytes = *host_mapped_bytes_};
  }

  void release_cached_memory() override {
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");  // cached blocks may still be read
    pool_->release_cached();
  }

  bool can_record() const override { return true; }

  void begin_recording() override {
    LLM_CHECK(recording_ == nullptr, "cuda: begin_recording while already recording");
    recording_ = std::make_unique<CudaStepRecording>();
    // Relaxed: the pool may cudaMalloc a scratch block while the stream is being captured.
    check_cuda(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
  }

  Result<std::unique_ptr<StepRecording>> end_recording() override {
    LLM_CHECK(recording_ != nullptr, "cuda: end_recording without begin_recording");
    std::unique_ptr<CudaStepRecording> recording = std::move(recording_);
    cudaGraph_t graph = nullptr;
    cudaError_t status = cudaStreamEndCapture(stream_, &graph);
    if (status == cudaSuccess) status = cudaGraphInstantiate(&recording->exec, graph, 0);
    if (graph != nullptr) cudaGraphDestroy(graph);
    if (status != cudaSuccess) {
      cudaGetLastError();  // not sticky: the stream runs ops again
      return make_error(ErrorCode::kUnsupported, str("cuda graph capture: ", cudaGetErrorString(status)));
    }
    return std::unique_ptr<StepRecording>(std::move(recording));
  }

  void replay(StepRecording& recording) override {
    LLM_CHECK(recording_ == nullptr, "cuda: replay while recording");
    check_cuda(cudaGraphLaunch(static_cast<CudaStepRecording&>(recording).exec, stream_), "cudaGraphLaunch");
  }

 protected:
  void do_embedding(TensorView table, TensorView ids, TensorView out, int64_t first_row) override {
    cuda::launch_embedding(table.data, table.dtype, table.shape[0], table.shape[1], ids.as<const int32_t>(),
                           ids.shape[0], first_row, out.as<float>(), stream_);
  }

  void do_rms_norm(TensorView x, TensorView weight, float eps, TensorView out) override {
    cuda::launch_rms_norm(x.as<const float>(), weight.data, weight.dtype, eps, x.shape[0], x.shape[1], out.data,
                          out.dtype, stream_);
  }

  void do_add_rms_norm(TensorView x, TensorView residual, TensorView weight, float eps, TensorView out) override {
    cuda::launch_add_rms_norm(x.as<float>(), residual.as<const float>(), weight.data, weight.dtype, eps, x.shape[0],
                              x.shape[1], out.data, out.dtype, stream_);
  }

  void do_linear(TensorView x, TensorView weight, TensorView out) override;
  void do_qkv_projection(TensorView x, const QkvWeights& w, TensorView q, TensorView k, TensorView v) override;
  void do_feed_forward(TensorView x, const FeedForwardWeights& w, TensorView gate, TensorView up,
                       TensorView out) override;

  void do_rope(TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout) override {
    cuda::launch_rope(x.as<float>(), x.shape[0], x.shape[1], x.shape[2], positions.as<const int32_t>(),
                      inv_freq.as<const float>(), layout, stream_);
  }

  void do_kv_write(TensorView k, TensorView v, KvCacheView cache, TensorView slots) override {
    cuda::launch_kv_write(k.as<const float>(), v.as<const float>(), k.shape[0], k.shape[1] * k.shape[2],
                          slots.as<const int32_t>(), cache.k.shape[0] * cache.k.shape[1], cache.k.data, cache.v.data,
                          cache.k.dtype, stream_);
  }

  void do_rope_kv_write(TensorView q, TensorView k, TensorView v, TensorView positions, TensorView inv_freq,
                        RopeLayout layout, KvCacheView cache, TensorView slots) override {
    bool interleaved = false;
    switch (layout) {
      case RopeLayout::kInterleaved: interleaved = true; break;
      case RopeLayout::kHalfSplit: interleaved = false; break;
    }
    cuda::launch_rope_kv_write(
        cuda::RopeKvWriteArgs{.q = q.as<float>(),
                              .k = k.as<float>(),
                              .v = v.as<const float>(),
                              .positions = positions.as<const int32_t>(),
                              .inv_freq = inv_freq.as<const float>(),
                              .slots = slots.as<const int32_t>(),
                              .n = q.shape[0],
                              .n_heads = q.shape[1],
                              .n_kv_heads = k.shape[1],
                              .head_dim = q.shape[2],
                              .n_slots = cache.k.shape[0] * cache.k.shape[1],
                              .interleaved = interleaved},
        cache.k.data, cache.v.data, cache.k.dtype, stream_);
  }

  void do_paged_attention(TensorView q, KvCacheView cache, const AttentionBatch& batch, TensorView out) override;

  void do_silu_mul(TensorView gate, TensorView up, TensorView out) override {
    cuda::launch_silu_mul(gate.as<const float>(), up.as<const float>(), out.as<float>(), gate.numel(), stream_);
  }

  void do_add(TensorView a, TensorView b, TensorView out) override {
    cuda::launch_add(a.as<const float>(), b.as<const float>(), out.as<float>(), a.numel(), stream_);
  }

  void do_gather_rows(TensorView x, TensorView rows, TensorView out) override {
    cuda::launch_gather_rows(x.as<const float>(), x.shape[0], x.shape[1], rows.as<const int32_t>(), rows.shape[0],
                             out.as<float>(), stream_);
  }

  void do_fill_synthetic(TensorView out, const SyntheticFill& fill) override {
    const int64_t rows = out.shape.rank() == 2 ? out.shape[0] : 1;
    cuda::launch_fill_synthetic(out.data, out.dtype, rows, out.shape[out.shape.rank() - 1], fill, stream_);
  }

  void do_sample(TensorView logits, TensorView params, TensorView out) override {
    cuda::launch_sample(logits.as<const float>(), logits.shape[0], logits.shape[1], params.as<const int32_t>(),
                        out.as<int32_t>(), stream_);
  }

 private:
  // Scratch for one op: returned to the pool when the op has been enqueued, which is safe
  // because the next user of the block is queued behind this op on the same stream. While
  // recording, the blocks belong to the recording (see CudaStepRecording).
  Buffer scratch(int64_t bytes) {
    if (recording_ != nullptr) {
      if (Buffer* block = recording_->reuse(bytes)) return recording_->lend(block);
    }
    Result<Buffer> buffer = pool_->allocate(bytes);
    LLM_CHECK(buffer.ok(), "cuda scratch of ", bytes, " bytes: ", buffer.error().message);
    if (recording_ == nullptr) return std::move(*buffer);
    return recording_->lend(recording_->add(std::move(*buffer)));
  }

  // x as the operand of a tensor-core product in a half type: x itself when it is one already (a
  // norm wrote it so), else x (f32) rounded into scratch.
  struct Operand {
    Buffer copy;
    const void* data;
  };
  Operand half_operand(TensorView x, DType half) {
    if (x.dtype == half) return Operand{Buffer(), x.data};
    LLM_CHECK(x.dtype == DType::kF32, name(), ": a ", dtype_name(x.dtype), " operand for ", dtype_name(half),
              " weights");
    Buffer copy = scratch(x.numel() * 2);
    cuda::launch_convert_from_f32(x.as<const float>(), x.numel(), copy.data(), half, stream_);
    const void* data = copy.data();
    return Operand{std::move(copy), data};
  }

  CudaBackendOptions options_;
  cudaDeviceProp properties_;
  std::shared_ptr<cuda::DevicePool> pool_;
  cudaStream_t stream_ = nullptr;
  void* gemm_workspace_ = nullptr;
  std::unique_ptr<cuda::LtGemm> gemm_;
  std::unique_ptr<CudaStepRecording> recording_;  // between begin_recording and end_recording
  // Shared with the buffers' release, which may run after the backend is gone.
  std::shared_ptr<int64_t> host_mapped_bytes_ = std::make_shared<int64_t>(0);
  // Pinned staging for large uploads, taken at the first one; an event marks each buffer's DMA.
  void* staging_[kStagingBuffers] = {};
  cudaEvent_t staging_done_[kStagingBuffers] = {};
  int next_staging_ = 0;
};

void CudaBackend::do_linear(TensorView x, TensorView weight, TensorView out) {
  const int64_t n = x.shape[0], k = x.shape[1], m = weight.shape[0];
  if (n == 0 || m == 0) return;
  if (k == 0) {
    check_cuda(cudaMemsetAsync(out.data, 0, static_cast<size_t>(out.bytes()), stream_), "cudaMemsetAsync");
    return;
  }
  // Few rows (decode): bound by reading the weights once; f32 accumulation, no rounding of x.
  if (n <= cuda::kGemvMaxRows) {
    cuda::launch_gemv(x.as<const float>(), n, k, weight.data, weight.dtype, m, out.as<float>(), stream_);
    return;
  }
  if (options_.exact_fp32 || weight.dtype == DType::kF32) {
    // f32 x f32: widen the weight (unless it is f32 already) and run a true f32 product.
    Buffer widened;
    const void* weight_f32 = weight.data;
    if (weight.dtype != DType::kF32) {
      widened = scratch(m * k * 4);
      cuda::launch_dequantize(weight.data, weight.dtype, m, k, widened.data(), DType::kF32, stream_);
      weight_f32 = widened.data();
    }
    gemm_->matmul(x.data, weight_f32, DType::kF32, n, m, k, out.as<float>(), stream_);
    return;
  }
  // Tensor cores: x rounded to the weight's half type (quantized weights are dequantized to bf16
  // first), f32 accumulation and f32 output.
  const DType operand = is_half(weight.dtype) ? weight.dtype : DType::kBF16;
  Buffer dequantized;
  const void* weight_half = weight.data;
  if (!is_half(weight.dtype)) {
    dequantized = scratch(m * k * 2);
    cuda::launch_dequantize(weight.data, weight.dtype, m, k, dequantized.data(), operand, stream_);
    weight_half = dequantized.data();
  }
  const Operand x_half = half_operand(x, operand);
  gemm_->matmul(x_half.data, weight_half, operand, n, m, k, out.as<float>(), stream_);
}

// Steps of more rows than the GEMV takes, on tensor cores, with every weight of one half type:
// the products that share an input share its one rounding to that type.
bool tensor_core_products(int64_t n, int64_t k, bool exact_fp32, std::initializer_list<const TensorView*> weights) {
  if (n <= cuda::kGemvMaxRows || k == 0 || exact_fp32) return false;
  const DType dtype = (*weights.begin())->dtype;
  return is_half(dtype) &&
         std::all_of(weights.begin(), weights.end(), [&](const TensorView* w) { return w->dtype == dtype; });
}

void CudaBackend::do_qkv_projection(TensorView x, const QkvWeights& w, TensorView q, TensorView k, TensorView v) {
  const int64_t n = x.shape[0], dim = x.shape[1];
  if (!tensor_core_products(n, dim, options_.exact_fp32, {&w.wq, &w.wk, &w.wv})) {
    Backend::do_qkv_projection(x, w, q, k, v);
    return;
  }
  const DType operand = w.wq.dtype;
  const Operand x_half = half_operand(x, operand);
  for (const auto& [weight, out] : {std::pair{&w.wq, &q}, std::pair{&w.wk, &k}, std::pair{&w.wv, &v}}) {
    gemm_->matmul(x_half.data, weight->data, operand, n, weight->shape[0], dim, out->data, stream_);
  }
}

// The gate and up products stay in the weights' half type, as a bf16 model computes them
// (transformers' bf16 path rounds them too): against f32 intermediates that is 2/3 less traffic
// for the [n, ffn] tensors, the largest of a prefill step, and silu * up lands as w2's operand.
void CudaBackend::do_feed_forward(TensorView x, const FeedForwardWeights& w, TensorView gate, TensorView up,
                                  TensorView out) {
  const int64_t n = x.shape[0], dim = x.shape[1], ffn = w.w1.shape[0];
  if (ffn == 0 || !tensor_core_products(n, dim, options_.exact_fp32, {&w.w1, &w.w3, &w.w2})) {
    Backend::do_feed_forward(x, w, gate, up, out);
    return;
  }
  const DType operand = w.w1.dtype;
  const Operand x_half = half_operand(x, operand);
  // [n, 2 ffn] halves fill the f32 [n, ffn] gate workspace exactly: gate rows then up rows, or
  // (stacked weight) each row's gate then up.
  auto* products = static_cast<std::byte*>(gate.data);
  const std::byte* up_products = nullptr;
  int64_t stride = ffn;
  if (w.gate_up.data != nullptr) {
    gemm_->matmul(x_half.data, w.gate_up.data, operand, n, 2 * ffn, dim, products, stream_, operand);
    up_products = products + ffn * 2;
    stride = 2 * ffn;
  } else {
    up_products = products + n * ffn * 2;
    gemm_->matmul(x_half.data, w.w1.data, operand, n, ffn, dim, products, stream_, operand);
    gemm_->matmul(x_half.data, w.w3.data, operand, n, ffn, dim, const_cast<std::byte*>(up_products), stream_,
                  operand);
  }
  cuda::launch_silu_mul_half(products, up_products, stride, n, ffn, up.data, operand, stream_);
  gemm_->matmul(up.data, w.w2.data, operand, n, dim, ffn, out.data, stream_);
}

void CudaBackend::do_paged_attention(TensorView q, KvCacheView cache, const AttentionBatch& batch, TensorView out) {
  cuda::PagedAttentionArgs args{
      .q = q.as<const float>(),
      .k_cache = cache.k.data,
      .v_cache = cache.v.data,
      .cache_dtype = cache.k.dtype,
      .query_start = batch.query_start.as<const int32_t>(),
      .positions = batch.positions.as<const int32_t>(),
      .block_tables = batch.block_tables.as<const int32_t>(),
      .out = out.as<float>(),
      .n = q.shape[0],
      .n_heads = q.shape[1],
      .n_kv_heads = cache.k.shape[2],
      .head_dim = q.shape[2],
      .n_blocks = cache.k.shape[0],
      .block_size = cache.k.shape[1],
      .n_seqs = batch.block_tables.shape[0],
      .max_blocks_per_seq = batch.block_tables.shape[1],
      .scale = batch.scale,
  };
  if (args.n == 0) return;
  // Prefill tiles on tensor cores (f16 operands); the rows they do not cover, and everything on
  // the f32 path, through the split kernel.
  if (!options_.exact_fp32 && cuda::prefill_attention_supported(args)) {
    cuda::launch_paged_attention_prefill(args, stream_);
    cuda::launch_paged_attention_split(args, /*n_splits=*/1, nullptr, /*skip_uniform_tiles=*/true, stream_);
    return;
  }
  const int64_t n_splits = cuda::attention_split_count(args, properties_.multiProcessorCount);
  Buffer partials;
  if (n_splits > 1) partials = scratch(n_splits * args.n * args.n_heads * (args.head_dim + 2) * 4);
  cuda::launch_paged_attention_split(args, n_splits, static_cast<float*>(partials.data()),
                                     /*skip_uniform_tiles=*/false, stream_);
}

}  // namespace

Result<std::unique_ptr<Backend>> create_cuda_backend(const CudaBackendOptions& options) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    cudaGetLastError();
    return make_error(ErrorCode::kUnsupported,
                      str("device cuda: no usable CUDA device (", cudaGetErrorString(status), ")"));
  }
  if (options.device_index < 0 || options.device_index >= count) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("device cuda:", options.device_index, ": this machine has ", count, " CUDA devices"));
  }
  cudaDeviceProp properties{};
  check_cuda(cudaGetDeviceProperties(&properties, options.device_index), "cudaGetDeviceProperties");
  return std::unique_ptr<Backend>(new CudaBackend(options, properties));
}

}  // namespace llm
