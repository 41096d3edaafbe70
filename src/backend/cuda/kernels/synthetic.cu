// Synthetic weights made on the device (backend/synthetic_fill.h holds the value function, shared
// with the host, so both give the same bits): one thread per element, grid-stride.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

template <typename T>
__global__ void fill_synthetic_kernel(T* out, int64_t rows, int64_t columns, SyntheticFill fill) {
  const int64_t count = rows * columns;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < count;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / columns, c = e % columns;
    out[e] = from_float<T>(synthetic_value(fill, (fill.row0 + r) * fill.columns + fill.col0 + c));
  }
}

}  // namespace

void launch_fill_synthetic(void* out, DType dtype, int64_t rows, int64_t columns, const SyntheticFill& fill,
                           cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((rows * columns + kThreads - 1) / kThreads, 65536);
  if (blocks == 0) return;
  with_float_type(dtype, "fill_synthetic", [&]<typename T>(T) {
    fill_synthetic_kernel<<<blocks, kThreads, 0, stream>>>(static_cast<T*>(out), rows, columns, fill);
  });
  check_launch("fill_synthetic");
}

}  // namespace llm::cuda
