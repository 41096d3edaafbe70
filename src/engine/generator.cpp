#include "engine/generator.h"

#include <algorithm>
#include <chrono>

#include "engine/step_batch.h"
#include "util/str.h"

namespace llm {
namespace {

ForwardBatch single_sequence_batch(const KvManager& kv, const SequenceBlocks& sequence,
                                   const std::vector<int32_t>& context, int32_t begin, int32_t end) {
  StepSequence step{.blocks = &sequence, .context = context, .begin = begin, .end = end};
  return build_step_batch(kv, std::span<const StepSequence>(&step, 1));
}

}  // namespace

Result<GenerateResult> generate(ModelRunner& model, KvManager& kv, const std::vector<int32_t>& prompt,
                                const GenerateOptions& options, const std::function<void(int32_t)>& on_token) {
  const LlamaConfig& config = model.config();
  if (prompt.empty()) return make_error(ErrorCode::kInvalidArgument, "the prompt has no tokens");
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] < 0 || prompt[i] >= config.vocab_size) {
      return make_error(ErrorCode::kInvalidArgument, str("prompt token ", i, " is ", prompt[i],
                                                         ", outside the vocabulary [0, ", config.vocab_size, ")"));
    }
  }
  if (options.max_tokens < 0) {
    return make_error(ErrorCode::kInvalidArgument, str("max_tokens must be >= 0, got ", options.max_tokens));
  }
  Status sampling_ok = options.sampling.validate();
  if (!sampling_ok) return sampling_ok.error();
  int64_t total = static_cast<int64_t>(prompt.size()) + options.max_tokens;
  int64_t capacity = static_cast<int64_t>(kv.pool().n_free()) * kv.block_size();
  if (total > capacity || total > INT32_MAX) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("prompt (", prompt.size(), " tokens) + max_tokens (", options.max_tokens, ") = ", total,
                          " tokens does not fit the KV cache (", capacity, " tokens)"));
  }

  GenerateResult result;
  std::vector<int32_t> context = prompt;
  SequenceBlocks sequence;
  Sampler sampler(options.sampling);
  std::vector<float> logits;
  using Clock = std::chrono::steady_clock;
  auto finish = [&](Status status) -> Result<GenerateResult> {
    kv.release(sequence);
    if (!status) return status.error();
    return std::move(result);
  };
  auto take = [&](std::vector<float>& step_logits) -> bool {  // true when generation must stop
    int32_t token = sampler.sample(step_logits, context);
    result.tokens.push_back(token);
    context.push_back(token);
    if (options.keep_logits) result.step_logits.insert(result.step_logits.end(), step_logits.begin(), step_logits.end());
    if (on_token) on_token(token);
    bool eos = !options.ignore_eos && std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), token) !=
                                          config.eos_token_ids.end();
    bool stop = std::find(options.stop_tokens.begin(), options.stop_tokens.end(), token) != options.stop_tokens.end();
    if (eos || stop) result.finish_reason = FinishReason::kStop;
    return eos || stop || static_cast<int32_t>(result.tokens.size()) >= options.max_tokens;
  };
  if (options.max_tokens == 0) return finish({});

  auto start = Clock::now();
  int32_t n_prompt = static_cast<int32_t>(prompt.size());
  int32_t chunk = std::max(1, options.prefill_chunk);
  for (int32_t begin = 0; begin < n_prompt; begin += chunk) {
    int32_t end = std::min(n_prompt, begin + chunk);
    if (!kv.reserve(sequence, end)) return finish(make_error(ErrorCode::kOutOfMemory, "kv cache exhausted"));
    Status status = model.forward(single_sequence_batch(kv, sequence, context, begin, end), logits);
    if (!status) return finish(status);
  }
  auto prefill_done = Clock::now();
  result.prefill_seconds = std::chrono::duration<double>(prefill_done - start).count();
  bool done = take(logits);
  while (!done) {
    int32_t position = static_cast<int32_t>(context.size()) - 1;
    if (!kv.reserve(sequence, position + 1)) return finish(make_error(ErrorCode::kOutOfMemory, "kv cache exhausted"));
    Status status = model.forward(single_sequence_batch(kv, sequence, context, position, position + 1), logits);
    if (!status) return finish(status);
    done = take(logits);
  }
  result.decode_seconds = std::chrono::duration<double>(Clock::now() - prefill_done).count();
  return finish({});
}

}  // namespace llm
