// A caching allocator over cudaMalloc. The model allocates its activations on every forward
// step; cudaMalloc/cudaFree cost tens of microseconds and cudaFree synchronises the device, which
// would put a host stall inside every step. Freed blocks go to a free list and are handed out
// again. Reuse is safe without events because every kernel and copy of the backend runs on one
// stream: work queued after the reuse runs after the work that used the block before.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "backend/backend.h"
#include "util/result.h"

namespace llm::cuda {

class DevicePool : public std::enable_shared_from_this<DevicePool> {
 public:
  explicit DevicePool(int device_index) : device_index_(device_index) {}
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // kOutOfMemory when cudaMalloc fails even after the cached blocks were returned to the driver.
  // The Buffer keeps the pool alive, so a Buffer may outlive the backend that made it.
  Result<Buffer> allocate(int64_t bytes);

  // Returns the cached (free) blocks to the driver. The caller makes sure no queued work still
  // uses them (they were released to the pool while their last users may still be queued).
  void release_cached();

  int64_t bytes_in_use() const;
  int64_t peak_bytes_in_use() const;

 private:
  void release(void* pointer, int64_t rounded_bytes);
  void free_cached_locked();

  int device_index_;
  mutable std::mutex mutex_;
  std::multimap<int64_t, void*> free_blocks_;  // rounded size -> block
  int64_t bytes_in_use_ = 0;
  int64_t peak_bytes_in_use_ = 0;
};

}  // namespace llm::cuda
