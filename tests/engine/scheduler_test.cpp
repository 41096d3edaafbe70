// Continuous batching, scripted: exact step counts, preemption, prefix caching, cancellation,
// and that every request gets the tokens it gets alone (transformers' greedy tokens).
#include <gtest/gtest.h>

#include "backend/registry.h"
#include "engine/scheduler.h"
#include "model/llama/llama_model.h"
#include "model/loader.h"
#include "util/json.h"
#include "util/mapped_file.h"

namespace llm {
namespace {

const std::string kFixture = std::string(LLAMA_SOURCE_DIR) + "/tests/fixtures/models/gqa-llama3/hf";
const std::vector<int32_t> kPrompt = {1, 17, 42, 99, 7, 250, 3, 128};  // the fixture's prompt

std::vector<int32_t> expected_greedy() {
  Json json = parse_json(read_text_file(kFixture + "/expected.json").value(), "expected.json").value();
  return json["greedy_tokens"].get<std::vector<int32_t>>();
}

struct Recorder final : RequestObserver {
  void on_token(const TokenEvent& event) override {
    tokens.push_back(event.token);
    if (event.logprob) logprobs.push_back(*event.logprob);
    top = event.top_logprobs;
  }
  void on_finish(FinishReason r, const RequestStats& s) override {
    reason = r;
    stats = s;
    finished = true;
  }
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  std::vector<TokenLogprob> top;
  FinishReason reason = FinishReason::kError;
  RequestStats stats;
  bool finished = false;
};

class SchedulerTest : public testing::Test {
 protected:
  void SetUp() override {
    loaded_ = std::move(load_model(kFixture, LoadOptions{}).value());
    loaded_->config.eos_token_ids.clear();  // run to max_tokens
    backend_ = std::move(create_backend(BackendOptions{.device = "cpu", .n_threads = 2}).value());
  }
  void make(int32_t n_blocks, int32_t block_size, SchedulerOptions options) {
    kv_ = std::make_unique<KvManager>(n_blocks, block_size);
    model_ = std::move(
        LlamaModel::create(*backend_, *loaded_, KvCacheOptions{.n_blocks = n_blocks, .block_size = block_size}).value());
    scheduler_ = std::make_unique<Scheduler>(*model_, *kv_, options);
  }
  std::shared_ptr<Recorder> submit(std::vector<int32_t> prompt, int32_t max_tokens, RequestOptions options = {}) {
    auto recorder = std::make_shared<Recorder>();
    options.max_tokens = max_tokens;
    Result<uint64_t> id = scheduler_->submit(Request{.prompt = std::move(prompt), .options = options, .observer = recorder});
    EXPECT_TRUE(id.ok()) << id.error().to_string();
    last_id_ = id.ok() ? *id : 0;
    return recorder;
  }
  int run_until_idle() {
    int steps = 0;
    while (scheduler_->step().value()) ++steps;
    return steps;
  }

  std::unique_ptr<LoadedModel> loaded_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<KvManager> kv_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<Scheduler> scheduler_;
  uint64_t last_id_ = 0;
};

TEST_F(SchedulerTest, ChunkedPrefillFollowsTheTokenBudget) {
  make(16, 4, SchedulerOptions{.max_step_tokens = 3});
  auto r = submit(kPrompt, 4);
  // 8 prompt tokens at 3 per step: 3 steps, the third yields token 1; then 3 decode steps.
  EXPECT_EQ(run_until_idle(), 6);
  std::vector<int32_t> greedy = expected_greedy();
  EXPECT_EQ(r->tokens, std::vector<int32_t>(greedy.begin(), greedy.begin() + 4));
  EXPECT_EQ(r->reason, FinishReason::kLength);
  EXPECT_EQ(kv_->pool().n_free(), 16);
}

TEST_F(SchedulerTest, BatchedRequestsGetTheirAloneTokens) {
  make(64, 4, SchedulerOptions{.max_step_tokens = 16});
  std::vector<int32_t> other = {5, 6, 7, 300, 301, 2};
  auto alone_other = submit(other, 12);
  run_until_idle();
  auto a = submit(kPrompt, 20);
  auto b = submit(other, 12);
  auto c = submit(kPrompt, 20);
  run_until_idle();
  std::vector<int32_t> greedy = expected_greedy();
  EXPECT_EQ(a->tokens, std::vector<int32_t>(greedy.begin(), greedy.begin() + 20));
  EXPECT_EQ(c->tokens, a->tokens);
  EXPECT_EQ(b->tokens, alone_other->tokens);
  EXPECT_EQ(kv_->pool().n_free(), 64);
}

TEST_F(SchedulerTest, PreemptsTheNewestWhenBlocksRunOut) {
  // 6 blocks of 4 = 24 tokens: each request needs 8 + 12 = 20, so two cannot run together.
  make(6, 4, SchedulerOptions{.max_step_tokens = 64, .prefix_caching = false});
  auto first = submit(kPrompt, 12);
  auto second = submit({9, 8, 7, 6, 5, 4, 3, 2}, 12);
  run_until_idle();
  std::vector<int32_t> greedy = expected_greedy();
  EXPECT_EQ(first->tokens, std::vector<int32_t>(greedy.begin(), greedy.begin() + 12));
  EXPECT_GE(second->stats.preemptions, 1);
  EXPECT_EQ(second->tokens.size(), 12u);
  EXPECT_EQ(scheduler_->stats().preemptions, second->stats.preemptions);
  // Alone, the second request gives the same tokens it gave after being preempted.
  auto again = submit({9, 8, 7, 6, 5, 4, 3, 2}, 12);
  run_until_idle();
  EXPECT_EQ(again->tokens, second->tokens);
  EXPECT_EQ(kv_->pool().n_free(), 6);
}

TEST_F(SchedulerTest, PrefixCacheSkipsSharedFullBlocks) {
  make(32, 4, SchedulerOptions{.max_step_tokens = 64});
  auto first = submit(kPrompt, 6);
  run_until_idle();
  auto second = submit(kPrompt, 6);
  run_until_idle();
  EXPECT_EQ(first->stats.cached_prompt_tokens, 0);
  EXPECT_EQ(second->stats.cached_prompt_tokens, 4);  // block [0,4) cached; the last block is recomputed
  EXPECT_EQ(second->tokens, first->tokens);
  EXPECT_EQ(kv_->pool().n_free(), 32);
}

TEST_F(SchedulerTest, CancelFreesBlocks) {
  make(16, 4, SchedulerOptions{.max_step_tokens = 64});
  auto r = submit(kPrompt, 30);
  ASSERT_TRUE(scheduler_->step().value());
  ASSERT_TRUE(scheduler_->step().value());
  scheduler_->cancel(last_id_);
  run_until_idle();
  EXPECT_TRUE(r->finished);
  EXPECT_EQ(r->reason, FinishReason::kCancelled);
  EXPECT_EQ(r->tokens.size(), 2u);
  EXPECT_EQ(kv_->pool().n_free(), 16);
}

TEST_F(SchedulerTest, LogprobsAreALogSoftmax) {
  make(16, 4, SchedulerOptions{});
  RequestOptions options;
  options.logprobs = true;
  options.top_logprobs = 3;
  auto r = submit(kPrompt, 2, options);
  run_until_idle();
  ASSERT_EQ(r->logprobs.size(), 2u);
  ASSERT_EQ(r->top.size(), 3u);
  EXPECT_EQ(r->top[0].token, r->tokens[1]);  // greedy: the chosen token is the most likely
  EXPECT_FLOAT_EQ(r->top[0].logprob, r->logprobs[1]);
  EXPECT_LE(r->logprobs[1], 0.0f);
  EXPECT_GE(r->top[0].logprob, r->top[1].logprob);
}

TEST_F(SchedulerTest, RejectsWhatCannotRun) {
  make(4, 4, SchedulerOptions{.max_waiting = 1});
  auto error = [&](std::vector<int32_t> prompt, int32_t max_tokens) {
    return scheduler_->submit(Request{.prompt = prompt, .options = {.max_tokens = max_tokens}}).error().message;
  };
  EXPECT_EQ(error({}, 4), "the prompt has no tokens");
  EXPECT_EQ(error({1, 384}, 4), "prompt token 1 is 384, outside the vocabulary [0, 384)");
  EXPECT_EQ(error(kPrompt, 0), "max_tokens must be at least 1, got 0");
  EXPECT_EQ(error(kPrompt, 9), "prompt (8 tokens) + max_tokens (9) does not fit the KV cache (16 tokens)");
  EXPECT_EQ(error(kPrompt, 600), "prompt (8 tokens) + max_tokens (600) exceeds the model's context length of 512 tokens");
  submit(kPrompt, 2);
  Result<uint64_t> busy = scheduler_->submit(Request{.prompt = kPrompt, .options = {.max_tokens = 2}});
  EXPECT_EQ(busy.error().code, ErrorCode::kUnavailable);
}

TEST_F(SchedulerTest, BackgroundThreadServesAndStops) {
  make(64, 4, SchedulerOptions{});
  scheduler_->start();
  auto a = submit(kPrompt, 8);
  auto b = submit(kPrompt, 200);
  while (!a->finished) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  scheduler_->stop();
  EXPECT_EQ(a->reason, FinishReason::kLength);
  EXPECT_TRUE(b->finished);
  EXPECT_EQ(scheduler_->stats().kv_blocks_free, 64);
}

}  // namespace
}  // namespace llm
