#include "backend/cuda/device_pool.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "backend/cuda/cuda_check.h"

namespace llm::cuda {
namespace {

// Small blocks round to 512 bytes, large ones to 2 MiB, so that the same request size always
// lands in the same class and a step's buffers are reused exactly from step to step.
int64_t round_size(int64_t bytes) {
  constexpr int64_t kSmall = 512, kLarge = 2 << 20;
  if (bytes <= 0) return kSmall;
  if (bytes < kLarge) return (bytes + kSmall - 1) / kSmall * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

}  // namespace

DevicePool::~DevicePool() {
  std::lock_guard<std::mutex> lock(mutex_);
  free_cached_locked();
}

void DevicePool::free_cached_locked() {
  for (auto& [size, pointer] : free_blocks_) check_cuda(cudaFree(pointer), "cudaFree");
  free_blocks_.clear();
}

Result<Buffer> DevicePool::allocate(int64_t bytes) {
  if (bytes < 0) return make_error(ErrorCode::kInvalidArgument, str("cuda allocate: negative size ", bytes));
  const int64_t rounded = round_size(bytes);
  void* pointer = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A cached block of the same class, or a larger one up to twice the size (never hand a 1 GiB
    // block to a 1 KiB request).
    auto it = free_blocks_.lower_bound(rounded);
    if (it != free_blocks_.end() && it->first <= 2 * rounded) {
      pointer = it->second;
      int64_t size = it->first;
      free_blocks_.erase(it);
      bytes_in_use_ += size;
      peak_bytes_in_use_ = std::max(peak_bytes_in_use_, bytes_in_use_);
      std::weak_ptr<DevicePool> pool = weak_from_this();
      return Buffer(pointer, bytes, [pool, size](void* p) {
        if (auto owner = pool.lock()) {
          owner->release(p, size);
        } else {
          cudaFree(p);
        }
      });
    }
    check_cuda(cudaSetDevice(device_index_), "cudaSetDevice");
    cudaError_t status = cudaMalloc(&pointer, static_cast<size_t>(rounded));
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky-free error so the next launch check does not see it
      free_cached_locked();
      status = cudaMalloc(&pointer, static_cast<size_t>(rounded));
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      return make_error(ErrorCode::kOutOfMemory,
                        str("cuda: cannot allocate ", bytes, " bytes (", cudaGetErrorString(status), "; ",
                            free_bytes, " of ", total_bytes, " bytes free)"));
    }
    bytes_in_use_ += rounded;
    peak_bytes_in_use_ = std::max(peak_bytes_in_use_, bytes_in_use_);
  }
  std::weak_ptr<DevicePool> pool = weak_from_this();
  return Buffer(pointer, bytes, [pool, rounded](void* p) {
    if (auto owner = pool.lock()) {
      owner->release(p, rounded);
    } else {
      cudaFree(p);
    }
  });
}

void DevicePool::release(void* pointer, int64_t rounded_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  bytes_in_use_ -= rounded_bytes;
  free_blocks_.emplace(rounded_bytes, pointer);
}

void DevicePool::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  free_cached_locked();
}

int64_t DevicePool::bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_in_use_;
}

int64_t DevicePool::peak_bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return peak_bytes_in_use_;
}

}  // namespace llm::cuda
