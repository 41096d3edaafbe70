// The inline provider: a model served in this process — tokenizer + chat template + Scheduler
// (continuous batching) + incremental detokenizer + stop strings + Llama 3 tool-call parsing.
#pragma once

#include <memory>
#include <string>

#include "engine/scheduler.h"
#include "model/loader.h"
#include "stack/metrics.h"
#include "stack/provider.h"
#include "tokenizer/tokenizer.h"

namespace llm::stack {

// Everything a loaded model is made of. Built by the caller (the CLI knows devices and parallel
// layouts); the provider owns it from then on.
struct InlineEngineParts {
  std::unique_ptr<LoadedModel> model;
  std::unique_ptr<Backend> backend;      // may be null (parallel ranks own theirs)
  std::unique_ptr<ModelRunner> runner;
  std::unique_ptr<KvManager> kv;
  std::unique_ptr<Tokenizer> tokenizer;  // may be null: then only token-id prompts work
};

struct InlineProviderOptions {
  std::string model_id;  // the name clients use
  SchedulerOptions scheduler;
};

class InlineProvider final : public Provider {
 public:
  // Starts the scheduler thread. `metrics` must outlive the provider.
  InlineProvider(InlineEngineParts parts, const InlineProviderOptions& options, ServingMetrics& metrics);
  ~InlineProvider() override;

  const std::string& id() const override { return id_; }
  std::string type() const override { return "inline::llama-stack-cpp"; }
  std::vector<ModelInfo> models() const override { return {info_}; }
  Result<uint64_t> generate(const GenerateRequest& request, std::shared_ptr<GenerationSink> sink) override;
  void cancel(uint64_t generation_id) override;
  Result<std::vector<int32_t>> tokenize(const std::string& model, const std::string& text) const override;
  ProviderStats stats() const override;

  // Stops the scheduler: queued and running generations end as cancelled. Idempotent.
  void stop();

 private:
  class Observer;
  Result<std::vector<int32_t>> build_prompt(const GenerateRequest& request) const;

  std::string id_ = "inline";
  InlineEngineParts parts_;
  ModelInfo info_;
  ServingMetrics& metrics_;
  std::unique_ptr<Scheduler> scheduler_;  // declared last: stopped and destroyed first
};

}  // namespace llm::stack
