#include "engine/generator.h"

#include "engine/scheduler.h"
#include "util/str.h"

namespace llm {
namespace {

class Collector final : public RequestObserver {
 public:
  Collector(GenerateResult& result, const std::function<void(int32_t)>& on_token) : result_(result), on_token_(on_token) {}
  void on_token(const TokenEvent& event) override {
    result_.tokens.push_back(event.token);
    result_.step_logits.insert(result_.step_logits.end(), event.logits.begin(), event.logits.end());
    if (on_token_) on_token_(event.token);
  }
  void on_finish(FinishReason reason, const RequestStats& stats) override {
    result_.finish_reason = reason;
    result_.prefill_seconds = stats.first_token_seconds;
    result_.decode_seconds = stats.total_seconds - stats.first_token_seconds;
    done = true;
  }
  bool done = false;

 private:
  GenerateResult& result_;
  const std::function<void(int32_t)>& on_token_;
};

}  // namespace

Result<GenerateResult> generate(ModelRunner& model, KvManager& kv, const std::vector<int32_t>& prompt,
                                const GenerateOptions& options, const std::function<void(int32_t)>& on_token) {
  GenerateResult result;
  if (options.max_tokens < 0) {
    return make_error(ErrorCode::kInvalidArgument, str("max_tokens must be >= 0, got ", options.max_tokens));
  }
  if (options.max_tokens == 0 && !prompt.empty()) return result;
  Scheduler scheduler(model, kv,
                      SchedulerOptions{.max_num_seqs = 1, .max_step_tokens = std::max(1, options.prefill_chunk),
                                       .max_waiting = 1, .prefix_caching = false});
  auto collector = std::make_shared<Collector>(result, on_token);
  Result<uint64_t> id = scheduler.submit(Request{
      .prompt = prompt,
      .options = RequestOptions{.max_tokens = options.max_tokens,
                                .sampling = options.sampling,
                                .stop_tokens = options.stop_tokens,
                                .ignore_eos = options.ignore_eos,
                                .return_logits = options.keep_logits},
      .observer = collector,
  });
  if (!id) return id.error();
  while (!collector->done) {
    Result<bool> stepped = scheduler.step();
    if (!stepped) return stepped.error();
  }
  return result;
}

}  // namespace llm
