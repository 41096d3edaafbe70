#include "engine/scheduler.h"

#include <algorithm>
#include <cmath>

#include "engine/step_batch.h"
#include "util/check.h"
#include "util/log.h"
#include "util/str.h"

namespace llm {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "?";
}

struct Scheduler::Sequence {
  uint64_t id = 0;
  Request request;
  std::vector<int32_t> tokens;  // prompt, then generated tokens
  int32_t n_prompt = 0;
  int32_t n_computed = 0;       // positions whose KV is in the cache
  SequenceBlocks blocks;
  std::unique_ptr<Sampler> sampler;
  RequestStats stats;
  Clock::time_point submitted;
  bool scheduled_once = false;
};

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// log-softmax of one row, in double for the normaliser.
std::vector<float> log_softmax(std::span<const float> logits) {
  double max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max_logit);
  double log_sum = std::log(sum) + max_logit;
  std::vector<float> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<float>(logits[i] - log_sum);
  return out;
}

}  // namespace

Scheduler::Scheduler(ModelRunner& model, KvManager& kv, const SchedulerOptions& options)
    : model_(model), kv_(kv), options_(options) {
  LLM_CHECK(options.max_num_seqs > 0 && options.max_step_tokens > 0 && options.sampling_threads >= 0,
            "scheduler options");
  sampling_pool_ = std::make_unique<ThreadPool>(options.sampling_threads > 0 ? options.sampling_threads
                                                                             : std::min(default_thread_count(), 16));
  stats_.kv_blocks_total = kv.pool().n_blocks();
  stats_.kv_blocks_free = kv.pool().n_free();
}

Scheduler::~Scheduler() { stop(); }

Result<uint64_t> Scheduler::submit(Request request) {
  const LlamaConfig& config = model_.config();
  auto bad = [](std::string message) { return make_error(ErrorCode::kInvalidArgument, std::move(message)); };
  if (request.prompt.empty()) return bad("the prompt has no tokens");
  for (size_t i = 0; i < request.prompt.size(); ++i) {
    if (request.prompt[i] < 0 || request.prompt[i] >= config.vocab_size) {
      return bad(str("prompt token ", i, " is ", request.prompt[i], ", outside the vocabulary [0, ",
                     config.vocab_size, ")"));
    }
  }
  const RequestOptions& o = request.options;
  if (o.max_tokens < 1) return bad(str("max_tokens must be at least 1, got ", o.max_tokens));
  if (o.top_logprobs < 0 || o.top_logprobs > 20) return bad(str("top_logprobs must be in [0, 20], got ", o.top_logprobs));
  Status sampling = o.sampling.validate();
  if (!sampling) return sampling.error();
  int64_t total = static_cast<int64_t>(request.prompt.size()) + o.max_tokens;
  if (total > config.max_position) {
    return bad(str("prompt (", request.prompt.size(), " tokens) + max_tokens (", o.max_tokens,
                   ") exceeds the model's context length of ", config.max_position, " tokens"));
  }
  int64_t capacity = static_cast<int64_t>(kv_.pool().n_blocks()) * kv_.block_size();
  if (total > capacity) {
    return bad(str("prompt (", request.prompt.size(), " tokens) + max_tokens (", o.max_tokens,
                   ") does not fit the KV cache (", capacity, " tokens)"));
  }
  auto sequence = std::make_unique<Sequence>();
  sequence->tokens = request.prompt;
  sequence->n_prompt = static_cast<int32_t>(request.prompt.size());
  sequence->sampler = std::make_unique<Sampler>(o.sampling);
  sequence->stats.prompt_tokens = sequence->n_prompt;
  sequence->submitted = Clock::now();
  sequence->request = std::move(request);
  std::lock_guard lock(mutex_);
  if (stopping_) return make_error(ErrorCode::kUnavailable, "the server is shutting down");
  if (static_cast<int64_t>(incoming_.size()) + stats_.waiting >= options_.max_waiting) {
    return make_error(ErrorCode::kUnavailable, str("too many requests waiting (", options_.max_waiting, ")"));
  }
  uint64_t id = next_id_++;
  sequence->id = id;
  incoming_.push_back(std::move(sequence));
  work_.notify_one();
  return id;
}

void Scheduler::cancel(uint64_t id) {
  std::lock_guard lock(mutex_);
  cancelled_.insert(id);
  work_.notify_one();
}

void Scheduler::take_incoming() {
  std::vector<std::unique_ptr<Sequence>> incoming;
  std::unordered_set<uint64_t> cancelled;
  {
    std::lock_guard lock(mutex_);
    incoming.swap(incoming_);
    cancelled.swap(cancelled_);
  }
  for (auto& sequence : incoming) waiting_.push_back(std::move(sequence));
  if (cancelled.empty()) return;
  auto drop = [&](auto& container) {
    for (auto it = container.begin(); it != container.end();) {
      if (cancelled.count((*it)->id) != 0) {
        finish(**it, FinishReason::kCancelled);
        it = container.erase(it);
      } else {
        ++it;
      }
    }
  };
  drop(waiting_);
  drop(running_);
}

void Scheduler::finish(Sequence& sequence, FinishReason reason) {
  kv_.release(sequence.blocks);
  sequence.stats.total_seconds = seconds_between(sequence.submitted, Clock::now());
  if (sequence.request.observer) sequence.request.observer->on_finish(reason, sequence.stats);
}

void Scheduler::preempt(Sequence& sequence) {
  // Recompute later: the generated tokens so far become part of what is re-prefilled.
  kv_.release(sequence.blocks);
  sequence.n_computed = 0;
  ++sequence.stats.preemptions;
  std::lock_guard lock(mutex_);
  ++stats_.preemptions;
}

Result<bool> Scheduler::step() {
  take_incoming();
  int32_t budget = options_.max_step_tokens;
  std::vector<std::pair<Sequence*, int32_t>> scheduled;  // sequence, tokens this step

  // 1. Running sequences, oldest first; preempt the newest when blocks run out.
  for (auto it = running_.begin(); it != running_.end() && budget > 0;) {
    Sequence& s = **it;
    int32_t chunk = std::min<int32_t>(static_cast<int32_t>(s.tokens.size()) - s.n_computed, budget);
    bool fits = kv_.reserve(s.blocks, s.n_computed + chunk);
    while (!fits && running_.back().get() != &s) {
      std::unique_ptr<Sequence> victim = std::move(running_.back());
      running_.pop_back();
      preempt(*victim);
      waiting_.push_front(std::move(victim));
      fits = kv_.reserve(s.blocks, s.n_computed + chunk);
    }
    if (!fits) {  // the newest running sequence itself: back to the queue
      std::unique_ptr<Sequence> self = std::move(*it);
      it = running_.erase(it);
      preempt(*self);
      waiting_.push_front(std::move(self));
      continue;
    }
    scheduled.emplace_back(&s, chunk);
    budget -= chunk;
    ++it;
  }
  // 2. Admit waiting requests while sequences, budget and blocks allow.
  while (!waiting_.empty() && budget > 0 && static_cast<int32_t>(running_.size()) < options_.max_num_seqs) {
    Sequence& s = *waiting_.front();
    if (options_.prefix_caching && s.blocks.blocks.empty()) {
      // Keep at least the last token to compute: its logits give the next token.
      int32_t max_blocks = (static_cast<int32_t>(s.tokens.size()) - 1) / kv_.block_size();
      s.n_computed = kv_.attach_cached_prefix(s.blocks, s.tokens, max_blocks);
      if (s.stats.preemptions == 0) s.stats.cached_prompt_tokens = s.n_computed;
    }
    int32_t chunk = std::min<int32_t>(static_cast<int32_t>(s.tokens.size()) - s.n_computed, budget);
    if (!kv_.reserve(s.blocks, s.n_computed + chunk)) {
      kv_.release(s.blocks);  // give the cached prefix back; try again next step
      s.n_computed = 0;
      break;
    }
    if (!s.scheduled_once) {
      s.scheduled_once = true;
      s.stats.queue_seconds = seconds_between(s.submitted, Clock::now());
    }
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    scheduled.emplace_back(&s, chunk);
    budget -= chunk;
  }
  {
    std::lock_guard lock(mutex_);
    stats_.waiting = static_cast<int64_t>(waiting_.size());
    stats_.running = static_cast<int64_t>(running_.size());
    stats_.kv_blocks_free = kv_.pool().n_free();
    stats_.kv_blocks_cached = kv_.pool().n_cached_free();
  }
  if (scheduled.empty()) return false;
  Status status = run_step(scheduled);
  if (!status) return status.error();
  return true;
}

Status Scheduler::run_step(std::vector<std::pair<Sequence*, int32_t>>& scheduled) {
  std::vector<StepSequence> steps;
  steps.reserve(scheduled.size());
  for (auto [s, chunk] : scheduled) {
    int32_t end = s->n_computed + chunk;
    steps.push_back(StepSequence{.blocks = &s->blocks, .context = s->tokens, .begin = s->n_computed, .end = end,
                                 .want_logits = end == static_cast<int32_t>(s->tokens.size())});
  }
  // Each logit row (a sequence that gets a token this step) is picked where the logits are when
  // the runner can and nothing about its sequence needs them; the others (logprobs, penalties) get
  // their logit row back and are picked on the host. A device row's draw comes from its
  // sequence's own RNG here; a host row's is taken by its Sampler, so each sequence draws the
  // same numbers either way.
  std::vector<const Sequence*> row_sequences;
  for (size_t i = 0; i < scheduled.size(); ++i) {
    if (steps[i].want_logits) row_sequences.push_back(scheduled[i].first);
  }
  const size_t rows = row_sequences.size();
  const bool runner_samples = model_.samples_on_device();
  std::vector<char> on_host(rows, 0);
  host_rows_.clear();
  for (size_t r = 0; r < rows; ++r) {
    if (!runner_samples || !samples_on_device(*row_sequences[r])) {
      on_host[r] = 1;
      host_rows_.push_back(static_cast<int32_t>(r));
    }
  }
  const bool sampled = host_rows_.size() < rows;  // some row is picked on the device
  draws_.clear();
  if (sampled) {
    for (size_t r = 0; r < rows; ++r) {
      draws_.push_back(on_host[r] ? TokenSampling{} : row_sequences[r]->sampler->next_draw());  // host: unused
    }
  }
  const ForwardBatch batch = build_step_batch(kv_, steps);
  // Either way logits_ row j is logit row host_rows_[j] (all rows when none is sampled).
  Status status = sampled ? model_.forward_sampled(batch, draws_, sampled_, host_rows_, logits_)
                          : model_.forward(batch, logits_);
  if (!status) {  // the step's sequences cannot go on; others may (e.g. after an allocation failure)
    for (auto [s, chunk] : scheduled) finish(*s, FinishReason::kError);
    running_.remove_if([&](const std::unique_ptr<Sequence>& s) {
      return std::any_of(scheduled.begin(), scheduled.end(), [&](const auto& p) { return p.first == s.get(); });
    });
    return status;
  }
  const int64_t vocab = model_.config().vocab_size;
  // Each row's token and what its observer is told. On the host every sequence has its own
  // sampler and RNG, so the rows are independent and are picked in parallel: a pick over 128k
  // logits (with logprobs, a log-softmax and a top-k too) takes milliseconds, and 64 of them one
  // after another would outlast the GPU's step.
  std::vector<TokenEvent> events(rows);
  for (size_t r = 0; r < rows; ++r) {
    if (!on_host[r]) events[r] = describe(*row_sequences[r], sampled_[r], {});
  }
  sampling_pool_->parallel_for(static_cast<int64_t>(host_rows_.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const size_t r = static_cast<size_t>(host_rows_[static_cast<size_t>(j)]);
      const Sequence& s = *row_sequences[r];
      std::span<const float> logits(logits_.data() + j * vocab, static_cast<size_t>(vocab));
      events[r] = describe(s, s.sampler->sample(logits, s.tokens, static_cast<size_t>(s.n_prompt)), logits);
    }
  });
  int64_t row = 0, computed_prompt = 0, generated = 0;
  std::vector<Sequence*> finished;
  for (size_t i = 0; i < scheduled.size(); ++i) {
    Sequence& s = *scheduled[i].first;
    int32_t before = s.n_computed;
    s.n_computed += scheduled[i].second;
    computed_prompt += std::max(0, std::min(s.n_computed, s.n_prompt) - before);
    if (options_.prefix_caching) kv_.register_full_blocks(s.blocks, s.tokens, std::min(s.n_computed, s.n_prompt));
    if (!steps[i].want_logits) continue;
    emit(s, events[static_cast<size_t>(row)]);
    ++row;
    ++generated;
    int32_t token = s.tokens.back();
    const RequestOptions& o = s.request.options;
    const auto& eos = model_.config().eos_token_ids;
    bool stop = std::find(o.stop_tokens.begin(), o.stop_tokens.end(), token) != o.stop_tokens.end() ||
                (!o.ignore_eos && std::find(eos.begin(), eos.end(), token) != eos.end());
    if (stop || s.stats.generated_tokens >= o.max_tokens) {
      finish(s, stop ? FinishReason::kStop : FinishReason::kLength);
      finished.push_back(&s);
    }
  }
  running_.remove_if([&](const std::unique_ptr<Sequence>& s) {
    return std::find(finished.begin(), finished.end(), s.get()) != finished.end();
  });
  std::lock_guard lock(mutex_);
  ++stats_.steps;
  stats_.prompt_tokens += computed_prompt;
  stats_.generated_tokens += generated;
  stats_.running = static_cast<int64_t>(running_.size());
  stats_.kv_blocks_free = kv_.pool().n_free();
  stats_.kv_blocks_cached = kv_.pool().n_cached_free();
  return {};
}

bool Scheduler::samples_on_device(const Sequence& s) const {
  const RequestOptions& o = s.request.options;
  return !o.logprobs && o.top_logprobs == 0 && !o.return_logits && s.sampler->penalty_free();
}

void Scheduler::emit(Sequence& s, const TokenEvent& event) {
  s.tokens.push_back(event.token);
  ++s.stats.generated_tokens;
  if (s.stats.generated_tokens == 1) s.stats.first_token_seconds = seconds_between(s.submitted, Clock::now());
  if (s.request.observer) s.request.observer->on_token(event);
}

TokenEvent Scheduler::describe(const Sequence& s, int32_t token, std::span<const float> logits) const {
  TokenEvent event{.token = token};
  if (!s.request.observer) return event;
  const RequestOptions& o = s.request.options;
  if (o.logprobs || o.top_logprobs > 0) {
    std::vector<float> logprobs = log_softmax(logits);
    event.logprob = logprobs[static_cast<size_t>(token)];
    if (o.top_logprobs > 0) {
      std::vector<int32_t> order(logprobs.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
      size_t k = std::min(order.size(), static_cast<size_t>(o.top_logprobs));
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), [&](int32_t a, int32_t b) {
        return logprobs[static_cast<size_t>(a)] > logprobs[static_cast<size_t>(b)] ||
               (logprobs[static_cast<size_t>(a)] == logprobs[static_cast<size_t>(b)] && a < b);
      });
      for (size_t i = 0; i < k; ++i) event.top_logprobs.push_back({order[i], logprobs[static_cast<size_t>(order[i])]});
    }
  }
  if (o.return_logits) event.logits = logits;
  return event;
}

void Scheduler::start() {
  LLM_CHECK(!thread_.joinable(), "scheduler already started");
  thread_ = std::thread([this] {
    while (true) {
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [&] {
          return stopping_ || !incoming_.empty() || !cancelled_.empty() || !running_.empty() || !waiting_.empty();
        });
        if (stopping_) break;
      }
      Result<bool> stepped = step();
      if (!stepped) {
        log_warning("scheduler step failed (its requests ended with an error): ", stepped.error().to_string());
      } else if (!*stepped && !waiting_.empty()) {
        // Nothing could run (e.g. blocks pinned by nothing): yield instead of spinning.
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  work_.notify_all();
  if (thread_.joinable()) thread_.join();
  take_incoming();
  for (auto& s : waiting_) finish(*s, FinishReason::kCancelled);
  for (auto& s : running_) finish(*s, FinishReason::kCancelled);
  waiting_.clear();
  running_.clear();
  std::lock_guard lock(mutex_);
  stats_.waiting = stats_.running = 0;
  stats_.kv_blocks_free = kv_.pool().n_free();
  stats_.kv_blocks_cached = kv_.pool().n_cached_free();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace llm
