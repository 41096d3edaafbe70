#include "backend/cuda/lt_gemm.h"

#include "backend/cuda/cuda_check.h"

namespace llm::cuda {
namespace {

// Largest power of two dividing the address, capped at 256 (cuBLASLt's default assumption):
// views carved from a workspace need not be 256-byte aligned, and an algorithm that assumes
// more alignment than the pointer has may fault.
int alignment_of(const void* pointer) {
  uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  int alignment = 256;
  while (alignment > 1 && address % static_cast<uintptr_t>(alignment) != 0) alignment /= 2;
  return alignment;
}

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return CUDA_R_32F;
    case DType::kF16: return CUDA_R_16F;
    case DType::kBF16: return CUDA_R_16BF;
    case DType::kI32:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K: break;
  }
  LLM_CHECK(false, "cuBLASLt matmul: dtype ", dtype_name(dtype), " (expected f32, f16 or bf16)");
}

}  // namespace

LtGemm::LtGemm(void* workspace, size_t workspace_bytes) : workspace_(workspace), workspace_bytes_(workspace_bytes) {
  check_cublas(cublasLtCreate(&handle_), "cublasLtCreate");
}

LtGemm::~LtGemm() {
  for (auto& [key, plan] : plans_) {
    cublasLtMatrixLayoutDestroy(plan.a);
    cublasLtMatrixLayoutDestroy(plan.b);
    cublasLtMatrixLayoutDestroy(plan.d);
    cublasLtMatmulDescDestroy(plan.operation);
  }
  cublasLtDestroy(handle_);
}

const LtGemm::Plan& LtGemm::plan_for(const PlanKey& key) {
  auto found = plans_.find(key);
  if (found != plans_.end()) return found->second;
  const auto [dtype_index, n, m, k, align_x, align_w, align_out, out_dtype_index] = key;
  const DType dtype = static_cast<DType>(dtype_index);
  const cudaDataType_t type = cuda_type(dtype);
  Plan plan;
  // f32 operands: true f32 products (no TF32), the exact path's contract.
  check_cublas(cublasLtMatmulDescCreate(&plan.operation, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  // Column-major view of the row-major product: out^T [m, n] = weight [k, m]^T . x^T [k, n].
  const cublasOperation_t transpose = CUBLAS_OP_T, none = CUBLAS_OP_N;
  check_cublas(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)),
               "CUBLASLT_MATMUL_DESC_TRANSA");
  check_cublas(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_TRANSB, &none, sizeof(none)),
               "CUBLASLT_MATMUL_DESC_TRANSB");
  check_cublas(cublasLtMatrixLayoutCreate(&plan.a, type, static_cast<uint64_t>(k), static_cast<uint64_t>(m), k),
               "cublasLtMatrixLayoutCreate(weight)");
  check_cublas(cublasLtMatrixLayoutCreate(&plan.b, type, static_cast<uint64_t>(k), static_cast<uint64_t>(n), k),
               "cublasLtMatrixLayoutCreate(x)");
  const cudaDataType_t out_type = cuda_type(static_cast<DType>(out_dtype_index));
  check_cublas(cublasLtMatrixLayoutCreate(&plan.d, out_type, static_cast<uint64_t>(m), static_cast<uint64_t>(n), m),
               "cublasLtMatrixLayoutCreate(out)");

  cublasLtMatmulPreference_t preference = nullptr;
  check_cublas(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate");
  uint64_t workspace_bytes = workspace_bytes_;
  check_cublas(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &workspace_bytes, sizeof(workspace_bytes)),
               "CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES");
  const uint32_t alignments[4] = {static_cast<uint32_t>(align_w), static_cast<uint32_t>(align_x),
                                  static_cast<uint32_t>(align_out), static_cast<uint32_t>(align_out)};
  const cublasLtMatmulPreferenceAttributes_t alignment_attributes[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; i < 4; ++i) {
    check_cublas(cublasLtMatmulPreferenceSetAttribute(preference, alignment_attributes[i], &alignments[i],
                                                      sizeof(alignments[i])),
                 "CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT");
  }
  cublasLtMatmulHeuristicResult_t result{};
  int n_results = 0;
  check_cublas(cublasLtMatmulAlgoGetHeuristic(handle_, plan.operation, plan.a, plan.b, plan.d, plan.d, preference, 1,
                                              &result, &n_results),
               "cublasLtMatmulAlgoGetHeuristic");
  cublasLtMatmulPreferenceDestroy(preference);
  LLM_CHECK(n_results > 0, "cuBLASLt has no algorithm for ", dtype_name(dtype), " [", n, ", ", k, "] x [", m, ", ", k,
            "]^T");
  plan.algo = result.algo;
  return plans_.emplace(key, plan).first->second;
}

void LtGemm::matmul(const void* x, const void* weight, DType dtype, int64_t n, int64_t m, int64_t k, void* out,
                    cudaStream_t stream, DType out_dtype) {
  if (n == 0 || m == 0) return;
  LLM_CHECK(out_dtype == DType::kF32 || out_dtype == dtype, "cuBLASLt matmul: ", dtype_name(dtype), " operands to ",
            dtype_name(out_dtype));
  const Plan& plan = plan_for(PlanKey{static_cast<int>(dtype), n, m, k, alignment_of(x), alignment_of(weight),
                                      alignment_of(out), static_cast<int>(out_dtype)});
  const float alpha = 1.0f, beta = 0.0f;
  check_cublas(cublasLtMatmul(handle_, plan.operation, &alpha, weight, plan.a, x, plan.b, &beta, out, plan.d, out,
                              plan.d, &plan.algo, workspace_, workspace_bytes_, stream),
               "cublasLtMatmul");
}

}  // namespace llm::cuda
