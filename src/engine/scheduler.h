// Continuous batching. Every step hands out a token budget across requests — there are no
// separate prefill and decode phases: running sequences get their next token (or the next chunk
// of their prompt) first, oldest first, then waiting requests are admitted while KV blocks and
// budget last. When blocks run out, the newest running sequence is preempted (its blocks freed,
// its tokens recomputed later). Full prompt blocks are shared through the prefix cache.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "engine/request.h"
#include "kv/block_pool.h"
#include "model/model_runner.h"
#include "util/thread_pool.h"

namespace llm {

struct SchedulerOptions {
  int32_t max_num_seqs = 64;       // running sequences at most
  int32_t max_step_tokens = 512;   // tokens computed per step at most (the budget)
  int32_t max_waiting = 1024;      // queued requests beyond this are refused (kUnavailable)
  bool prefix_caching = true;
  // Threads that pick the tokens of a step's rows on the host (and their logprobs), in parallel:
  // 0 is the machine's cores, at most 16; 1 picks them on the stepping thread.
  int32_t sampling_threads = 0;
};

struct SchedulerStats {
  int64_t waiting = 0;
  int64_t running = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_free = 0;   // including cached blocks nobody uses
  int64_t kv_blocks_cached = 0;
  int64_t steps = 0;
  int64_t prompt_tokens = 0;     // computed (not cached) prompt tokens, in total
  int64_t generated_tokens = 0;
  int64_t preemptions = 0;
};

class Scheduler {
 public:
  Scheduler(ModelRunner& model, KvManager& kv, const SchedulerOptions& options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Validates and queues a request; returns its id. kInvalidArgument for a bad request (empty
  // prompt, ids outside the vocabulary, prompt + max_tokens beyond the context or the whole KV
  // pool), kUnavailable when the queue is full or the scheduler is stopping. Thread-safe.
  Result<uint64_t> submit(Request request);
  // Cancels a queued or running request (its observer gets kCancelled). Thread-safe; unknown ids
  // are ignored.
  void cancel(uint64_t id);

  // Runs one step on the calling thread; false when there was nothing to do. Not to be mixed
  // with start().
  Result<bool> step();

  // A background thread that steps while there is work. stop() cancels everything still queued
  // or running, then joins.
  void start();
  void stop();

  SchedulerStats stats() const;

 private:
  struct Sequence;
  using Clock = std::chrono::steady_clock;

  void take_incoming();
  void finish(Sequence& sequence, FinishReason reason);
  void preempt(Sequence& sequence);
  Status run_step(std::vector<std::pair<Sequence*, int32_t>>& scheduled);
  // Whether this sequence's next token can be picked where the logits are (ModelRunner::
  // forward_sampled): nothing about it needs the logits on the host.
  bool samples_on_device(const Sequence& sequence) const;
  // What the observer is told of `token`: logprobs from `logits` (the row it came from, on the
  // host path only) when the request asks. Reads the sequence only, so rows can be described
  // on several threads.
  TokenEvent describe(const Sequence& sequence, int32_t token, std::span<const float> logits) const;
  // Appends event.token and tells the observer.
  void emit(Sequence& sequence, const TokenEvent& event);

  ModelRunner& model_;
  KvManager& kv_;
  SchedulerOptions options_;

  mutable std::mutex mutex_;  // guards incoming_, cancelled_, stats_, stopping_
  std::condition_variable work_;
  std::vector<std::unique_ptr<Sequence>> incoming_;
  std::unordered_set<uint64_t> cancelled_;
  SchedulerStats stats_;
  bool stopping_ = false;
  uint64_t next_id_ = 1;

  // Owned by the stepping thread.
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::list<std::unique_ptr<Sequence>> running_;  // oldest first
  std::vector<float> logits_;
  std::vector<TokenSampling> draws_;   // one per logit row when sampling on the device
  std::vector<int32_t> host_rows_;     // the logit rows picked on the host
  std::vector<int32_t> sampled_;
  std::unique_ptr<ThreadPool> sampling_pool_;  // host picks of a step's rows
  std::thread thread_;
};

}  // namespace llm
