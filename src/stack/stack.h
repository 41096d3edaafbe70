// The model registry and router: which provider serves which model id. The API layer talks to
// this, never to an engine.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "stack/metrics.h"
#include "stack/provider.h"

namespace llm::stack {

struct ResolvedModel {
  Provider* provider = nullptr;
  ModelInfo info;
};

class Stack {
 public:
  explicit Stack(std::string version) : version_(std::move(version)) {}

  void add_provider(std::unique_ptr<Provider> provider);

  const std::string& version() const { return version_; }
  std::vector<ModelInfo> models() const;
  const std::vector<std::unique_ptr<Provider>>& providers() const { return providers_; }

  // By id; also "<id>:latest" (Ollama clients add the tag) and the provider's resource id.
  // kNotFound names the models there are.
  Result<ResolvedModel> resolve(const std::string& model) const;

  ServingMetrics& metrics() { return metrics_; }

 private:
  std::string version_;
  std::vector<std::unique_ptr<Provider>> providers_;
  ServingMetrics metrics_;
};

}  // namespace llm::stack
