#include "stack/stack.h"

#include "util/str.h"

namespace llm::stack {

void Stack::add_provider(std::unique_ptr<Provider> provider) { providers_.push_back(std::move(provider)); }

std::vector<ModelInfo> Stack::models() const {
  std::vector<ModelInfo> out;
  for (const auto& p : providers_) {
    for (ModelInfo& m : p->models()) out.push_back(std::move(m));
  }
  return out;
}

Result<ResolvedModel> Stack::resolve(const std::string& model) const {
  std::string untagged = model.size() > 7 && model.ends_with(":latest") ? model.substr(0, model.size() - 7) : model;
  std::string names;
  for (const auto& p : providers_) {
    for (const ModelInfo& m : p->models()) {
      if (m.id == model || m.id == untagged || m.provider_resource_id == model) {
        return ResolvedModel{.provider = p.get(), .info = m};
      }
      names += names.empty() ? m.id : ", " + m.id;
    }
  }
  return make_error(ErrorCode::kNotFound, str("model '", model, "' not found; this server has: ", names));
}

}  // namespace llm::stack
