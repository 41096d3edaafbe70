// The CPU backend. With reference = true every op runs its scalar reference kernel (the truth
// other backends are tested against); otherwise the fast kernels (threads, SIMD where the CPU has it).
#pragma once

#include <memory>

#include "backend/backend.h"
#include "util/thread_pool.h"

namespace llm {

struct SimdKernels;  // backend/cpu/simd.h

struct CpuBackendOptions {
  int n_threads = 1;
  bool reference = false;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(CpuBackendOptions options);
  ~CpuBackend() override;

  DeviceKind device_kind() const override { return DeviceKind::kCpu; }
  std::string name() const override;

  Result<Buffer> allocate(int64_t bytes) override;
  void copy_from_host(TensorView dst, const void* src) override;
  void copy_to_host(void* dst, TensorView src) override;
  void synchronize() override {}

 protected:
  void do_embedding(TensorView table, TensorView ids, TensorView out, int64_t first_row) override;
  void do_rms_norm(TensorView x, TensorView weight, float eps, TensorView out) override;
  void do_linear(TensorView x, TensorView weight, TensorView out) override;
  void do_rope(TensorView x, TensorView positions, TensorView inv_freq, RopeLayout layout) override;
  void do_kv_write(TensorView k, TensorView v, KvCacheView cache, TensorView slots) override;
  void do_paged_attention(TensorView q, KvCacheView cache, const AttentionBatch& batch, TensorView out) override;
  void do_silu_mul(TensorView gate, TensorView up, TensorView out) override;
  void do_add(TensorView a, TensorView b, TensorView out) override;
  void do_gather_rows(TensorView x, TensorView rows, TensorView out) override;
  void do_sample(TensorView logits, TensorView params, TensorView out) override;
  void do_fill_synthetic(TensorView out, const SyntheticFill& fill) override;

 private:
  CpuBackendOptions options_;
  std::unique_ptr<ThreadPool> pool_;
  const SimdKernels* simd_ = nullptr;  // chosen once at construction from the CPU's features
};

}  // namespace llm
