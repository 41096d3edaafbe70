// Matrix products through cuBLASLt: out [n, m] = x [n, k] @ weight [m, k]^T, both operands of
// one dtype (f32 | f16 | bf16), f32 accumulation, out f32 or (rounded once) the operands' dtype.
// Algorithms are chosen once per shape, dtype and operand alignment and cached (the heuristic
// query costs more than a small product).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <tuple>

#include "core/dtype.h"

namespace llm::cuda {

class LtGemm {
 public:
  // workspace: device memory of workspace_bytes that outlives this object.
  LtGemm(void* workspace, size_t workspace_bytes);
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // x [n, k] and weight [m, k] of `dtype`; out [n, m] of out_dtype (f32 or `dtype`). Row-major.
  void matmul(const void* x, const void* weight, DType dtype, int64_t n, int64_t m, int64_t k, void* out,
              cudaStream_t stream, DType out_dtype = DType::kF32);

 private:
  struct Plan {
    cublasLtMatmulDesc_t operation = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  // (dtype, n, m, k, alignment of x, weight, out, out dtype)
  using PlanKey = std::tuple<int, int64_t, int64_t, int64_t, int, int, int, int>;
  const Plan& plan_for(const PlanKey& key);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_;
  size_t workspace_bytes_;
  std::map<PlanKey, Plan> plans_;
};

}  // namespace llm::cuda
