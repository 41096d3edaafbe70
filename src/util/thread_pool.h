// A fixed pool of worker threads for data-parallel loops (CPU kernels). parallel_for blocks
// until every chunk is done; the calling thread works too.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llm {

class ThreadPool {
 public:
  // n_threads counts the calling thread: 1 means "run everything inline".
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Splits [0, n) into contiguous chunks of at least min_chunk items and calls
  // body(begin, end) for each, in parallel. Chunks never overlap.
  void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& body);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 0;
  int64_t n_chunks_ = 0;
  int64_t next_chunk_ = 0;
  int64_t chunks_left_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

// Threads to use by default: the hardware concurrency, at least 1.
int default_thread_count();

}  // namespace llm
