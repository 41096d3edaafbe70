#include "util/thread_pool.h"

#include <algorithm>

namespace llm {

ThreadPool::ThreadPool(int n_threads) {
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  min_chunk = std::max<int64_t>(min_chunk, 1);
  int64_t max_chunks = (n + min_chunk - 1) / min_chunk;
  // A few chunks per thread balances uneven work without much scheduling overhead.
  int64_t n_chunks = std::min<int64_t>(max_chunks, static_cast<int64_t>(n_threads()) * 4);
  if (workers_.empty() || n_chunks <= 1) {
    body(0, n);
    return;
  }
  int64_t chunk = (n + n_chunks - 1) / n_chunks;
  n_chunks = (n + chunk - 1) / chunk;
  std::unique_lock lock(mutex_);
  body_ = &body;
  n_ = n;
  chunk_ = chunk;
  n_chunks_ = n_chunks;
  next_chunk_ = 0;
  chunks_left_ = n_chunks;
  ++generation_;
  work_ready_.notify_all();
  while (next_chunk_ < n_chunks_) {
    int64_t index = next_chunk_++;
    lock.unlock();
    body(index * chunk, std::min(n, (index + 1) * chunk));
    lock.lock();
    --chunks_left_;
  }
  work_done_.wait(lock, [this] { return chunks_left_ == 0; });
  body_ = nullptr;
}

void ThreadPool::worker_loop(int /*index*/) {
  uint64_t seen = 0;
  std::unique_lock lock(mutex_);
  while (true) {
    work_ready_.wait(lock, [&] { return stopping_ || (generation_ != seen && next_chunk_ < n_chunks_); });
    if (stopping_) return;
    seen = generation_;
    while (body_ != nullptr && next_chunk_ < n_chunks_) {
      int64_t index = next_chunk_++;
      const auto* body = body_;
      int64_t begin = index * chunk_, end = std::min(n_, (index + 1) * chunk_);
      lock.unlock();
      (*body)(begin, end);
      lock.lock();
      if (--chunks_left_ == 0) work_done_.notify_all();
    }
  }
}

int default_thread_count() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace llm
