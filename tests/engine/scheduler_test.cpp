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

// A runner that "samples on the device" the way a GPU runner does: the step's logits stay in the
// runner and each row's token comes from the backend's sample op with the scheduler's draws.
class DeviceSamplingRunner final : public ModelRunner {
 public:
  DeviceSamplingRunner(ModelRunner& model, Backend& backend) : model_(model), backend_(backend) {}
  const LlamaConfig& config() const override { return model_.config(); }
  Status forward(const ForwardBatch& batch, std::vector<float>& logits) override {
    ++host_steps;
    return model_.forward(batch, logits);
  }
  bool samples_on_device() const override { return true; }
  Status forward_sampled(const ForwardBatch& batch, std::span<const TokenSampling> sampling,
                         std::vector<int32_t>& tokens, std::span<const int32_t> host_rows,
                         std::vector<float>& host_logits) override {
    ++device_steps;
    host_rows_returned += static_cast<int>(host_rows.size());
    std::vector<float> logits;
    Status status = model_.forward(batch, logits);
    if (!status) return status;
    const auto rows = static_cast<int64_t>(sampling.size());
    const int64_t vocab = config().vocab_size;
    std::vector<TokenSampling> params(sampling.begin(), sampling.end());
    tokens.assign(static_cast<size_t>(rows), -1);
    backend_.sample(TensorView{logits.data(), DType::kF32, Shape{rows, vocab}},
                    TensorView{params.data(), DType::kI32, Shape{rows, kTokenSamplingWords}},
                    TensorView{tokens.data(), DType::kI32, Shape{rows}});
    host_logits.clear();
    for (int32_t row : host_rows) {
      host_logits.insert(host_logits.end(), logits.begin() + row * vocab, logits.begin() + (row + 1) * vocab);
    }
    return {};
  }
  int host_steps = 0, device_steps = 0, host_rows_returned = 0;

 private:
  ModelRunner& model_;
  Backend& backend_;
};

TEST_F(SchedulerTest, DeviceSamplingGivesTheHostSamplersTokens) {
  // Seeded sampling with every cut, three requests batched: picked on the "device" or by each
  // request's Sampler on the host, the tokens are the same, draw for draw.
  RequestOptions sampled;
  sampled.sampling = SamplingParams{.temperature = 0.9f, .top_k = 40, .top_p = 0.95f, .min_p = 0.01f, .seed = 11};
  RequestOptions other = sampled;
  other.sampling.seed = 12;
  std::vector<std::vector<int32_t>> host_tokens;
  make(64, 4, SchedulerOptions{.max_step_tokens = 16});
  for (const RequestOptions& o : {sampled, other, sampled}) {
    auto r = submit(kPrompt, 16, o);
    run_until_idle();
    host_tokens.push_back(r->tokens);
  }
  EXPECT_EQ(host_tokens[0], host_tokens[2]);
  EXPECT_NE(host_tokens[0], host_tokens[1]);  // the seed matters

  scheduler_.reset();  // it refers to the pool make() replaces
  make(64, 4, SchedulerOptions{.max_step_tokens = 16});
  DeviceSamplingRunner device(*model_, *backend_);
  scheduler_ = std::make_unique<Scheduler>(device, *kv_, SchedulerOptions{.max_step_tokens = 16});
  auto a = submit(kPrompt, 16, sampled);
  auto b = submit(kPrompt, 16, other);
  auto c = submit(kPrompt, 16, sampled);
  run_until_idle();
  EXPECT_EQ(a->tokens, host_tokens[0]);
  EXPECT_EQ(b->tokens, host_tokens[1]);
  EXPECT_EQ(c->tokens, host_tokens[2]);
  EXPECT_GT(device.device_steps, 0);
  EXPECT_EQ(device.host_steps, 0);  // every step here ends some prompt or decodes
  scheduler_.reset();  // before `device`, which it drives
}

TEST_F(SchedulerTest, SequencesThatNeedLogitsArePickedOnTheHost) {
  // A request with logprobs or a penalty: its logit row comes back and its Sampler picks; the
  // other rows of the same step are still picked on the "device". Alone, such a request's steps
  // come back whole as logits.
  make(64, 4, SchedulerOptions{.max_step_tokens = 32});
  DeviceSamplingRunner device(*model_, *backend_);
  scheduler_ = std::make_unique<Scheduler>(device, *kv_, SchedulerOptions{.max_step_tokens = 32});
  RequestOptions with_logprobs;
  with_logprobs.logprobs = true;
  RequestOptions with_penalty;
  with_penalty.sampling.repetition_penalty = 1.3f;
  auto greedy = submit(kPrompt, 6);
  auto logprobs = submit(kPrompt, 6, with_logprobs);
  run_until_idle();
  EXPECT_GT(device.device_steps, 0);
  EXPECT_EQ(device.host_rows_returned, 6);  // the logprobs request's rows only
  EXPECT_EQ(logprobs->logprobs.size(), 6u);
  EXPECT_EQ(greedy->tokens, logprobs->tokens);
  const int device_steps = device.device_steps;
  auto penalised = submit(kPrompt, 4, with_penalty);
  run_until_idle();
  EXPECT_EQ(device.device_steps, device_steps);  // alone: every step is a host step
  EXPECT_GT(device.host_steps, 0);
  EXPECT_EQ(penalised->tokens.size(), 4u);
  auto alone = submit(kPrompt, 6);
  run_until_idle();
  EXPECT_GT(device.device_steps, device_steps);
  EXPECT_EQ(alone->tokens, greedy->tokens);
  scheduler_.reset();  // before `device`, which it drives
}

TEST_F(SchedulerTest, MixedStepsGiveEachRequestItsOwnTokens) {
  // Seeded requests, some picked on the host (penalties, logprobs) and some on the "device", in
  // the same steps: each gets the tokens and logprobs it gets when every row is picked on the host.
  std::vector<RequestOptions> requests;
  for (int i = 0; i < 6; ++i) {
    RequestOptions o;
    o.sampling =
        SamplingParams{.temperature = 0.9f, .top_k = 20, .top_p = 0.95f, .seed = static_cast<uint64_t>(40 + i)};
    if (i == 1) o.sampling.repetition_penalty = 1.25f;
    if (i == 3) o.top_logprobs = 2;
    requests.push_back(o);
  }
  auto run = [&](bool device_sampling) {
    make(128, 4, SchedulerOptions{.max_step_tokens = 64});
    DeviceSamplingRunner device(*model_, *backend_);
    ModelRunner& runner = device_sampling ? static_cast<ModelRunner&>(device) : *model_;
    scheduler_ = std::make_unique<Scheduler>(runner, *kv_, SchedulerOptions{.max_step_tokens = 64});
    std::vector<std::shared_ptr<Recorder>> recorders;
    for (const RequestOptions& o : requests) recorders.push_back(submit(kPrompt, 12, o));
    run_until_idle();
    if (device_sampling) {
      EXPECT_GT(device.device_steps, 0);
      EXPECT_EQ(device.host_steps, 0);
      EXPECT_EQ(device.host_rows_returned, 2 * 12);  // requests 1 and 3, every token
    }
    scheduler_.reset();  // before `device`, which it drives
    return recorders;
  };
  const auto host = run(false), mixed = run(true);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(mixed[i]->tokens, host[i]->tokens) << "request " << i;
    EXPECT_EQ(mixed[i]->logprobs, host[i]->logprobs) << "request " << i;
  }
  EXPECT_NE(host[0]->tokens, host[2]->tokens);  // the seeds matter
}

TEST_F(SchedulerTest, HostPicksOnSeveralThreadsAreThoseOfOne) {
  // Twelve batched requests, each with its own seed, some with penalties and logprobs, picked on
  // the host: one sampling thread or four, every request gets the same tokens and logprobs.
  auto run = [&](int32_t threads) {
    make(256, 4, SchedulerOptions{.max_step_tokens = 64, .sampling_threads = threads});
    std::vector<std::shared_ptr<Recorder>> recorders;
    for (int i = 0; i < 12; ++i) {
      RequestOptions o;
      o.sampling = SamplingParams{.temperature = 0.8f, .top_p = 0.9f, .seed = static_cast<uint64_t>(100 + i)};
      if (i % 3 == 1) o.sampling.repetition_penalty = 1.2f;
      if (i % 2 == 0) {
        o.logprobs = true;
        o.top_logprobs = 4;
      }
      std::vector<int32_t> prompt = kPrompt;
      prompt.push_back(static_cast<int32_t>(10 + i));
      recorders.push_back(submit(prompt, 10, o));
    }
    run_until_idle();
    std::vector<std::pair<std::vector<int32_t>, std::vector<float>>> out;
    for (const auto& r : recorders) out.emplace_back(r->tokens, r->logprobs);
    scheduler_.reset();
    return out;
  };
  const auto one = run(1), four = run(4);
  ASSERT_EQ(one.size(), 12u);
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].first.size(), 10u) << "request " << i;
    EXPECT_EQ(one[i].first, four[i].first) << "request " << i;
    EXPECT_EQ(one[i].second, four[i].second) << "request " << i;
  }
  EXPECT_NE(one[0].first, one[3].first);  // the seeds matter
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
