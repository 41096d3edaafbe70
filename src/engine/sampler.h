// Token sampling on the host: repetition penalty, then temperature, top-k, top-p and min-p
// (the order of transformers' logits processors), then a seeded draw. Temperature 0 is greedy.
#pragma once

#include <cstdint>
#include <random>
#include <span>

#include "backend/sampling.h"
#include "util/result.h"

namespace llm {

struct SamplingParams {
  float temperature = 0.0f;        // <= 0: greedy (argmax)
  int32_t top_k = 0;               // 0: off
  float top_p = 1.0f;              // 1: off
  float min_p = 0.0f;              // 0: off
  float repetition_penalty = 1.0f; // 1: off; > 1 discourages tokens already in the context
  // OpenAI's penalties over the generated tokens (not the prompt): logit -= frequency_penalty x
  // count + presence_penalty x (count > 0). 0: off.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;

  // Ranges: temperature >= 0, top_k >= 0, top_p in (0, 1], min_p in [0, 1], repetition penalty
  // > 0, presence and frequency penalties in [-2, 2] (OpenAI's range).
  Status validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Picks the next token from logits [vocab]; `context` holds the prompt (its first n_prompt
  // tokens) and the generated tokens, for the penalties. Ties in greedy mode go to the lowest id,
  // like torch.argmax.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> context, size_t n_prompt = 0);

  // For picking on a device (Backend::sample): true when the logits need no host-side change
  // (no repetition, presence or frequency penalty), so pick_token on the raw logits is sample().
  bool penalty_free() const;
  // This step's pick_token parameters; draws the uniform from this sampler's RNG exactly as
  // sample() does (only when temperature > 0), so device and host picks consume the same stream.
  TokenSampling next_draw();

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace llm
