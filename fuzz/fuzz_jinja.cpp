// Parses and renders arbitrary template bytes under tight limits: any crash, sanitizer report,
// leak or hang (libFuzzer -timeout) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenizer/jinja/jinja.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llm::jinja::Limits limits;
  limits.max_steps = 200'000;
  limits.max_output_bytes = 1 << 20;
  limits.max_string_bytes = 1 << 20;
  limits.max_collection_size = 1 << 16;
  std::string_view source(reinterpret_cast<const char*>(data), size);
  auto parsed = llm::jinja::Template::parse(source, limits);
  if (!parsed.ok()) return 0;
  llm::jinja::OrderedJson context = {
      {"messages", {{{"role", "system"}, {"content", "s"}}, {{"role", "user"}, {"content", "u"}}}},
      {"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}}},
      {"add_generation_prompt", true},
      {"bos_token", "<s>"}};
  auto rendered = parsed->render(context, llm::jinja::RenderOptions{.now = llm::jinja::DateTime{2024, 7, 26}});
  (void)rendered;
  return 0;
}
