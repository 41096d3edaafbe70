// A sandboxed Jinja2 interpreter for chat templates (tokenizer_config.json "chat_template",
// GGUF "tokenizer.chat_template"). Templates come from model files and are hostile input:
//  - no host objects: values are plain data (value.h); no attribute walks, no file/template loading;
//  - every render is bounded in steps, nesting depth, output and string size, and collection size,
//    and exceeding any of them is an Error that names the limit;
//  - no clock: strftime_now() exists only when the caller passes `now`.
// Semantics follow jinja2 as transformers configures it (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols; tojson = json.dumps(ensure_ascii=False)).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/value.h"
#include "util/result.h"

namespace llm::jinja {

struct Stmt;

struct Limits {
  size_t max_template_bytes = 1 << 20;
  int max_parse_depth = 128;          // nested blocks and expressions in the source
  int64_t max_steps = 1'000'000;      // evaluation steps (~1 s); long strings and collections cost more
  int max_render_depth = 256;         // runtime nesting (expressions, statements, macro calls)
  size_t max_output_bytes = 8 << 20;  // the rendered text, and any captured block or macro output
  size_t max_string_bytes = 8 << 20;  // any single string value
  size_t max_collection_size = 1 << 20;  // items in any list/dict a template builds (range, *, +)
};

// A civil date and time for strftime_now (the caller's clock, never the sandbox's).
struct DateTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
};

// Python's strftime for the directives chat templates use (%d %m %Y %y %b %B %a %A %H %M %S %I %p
// %j %e %%), C locale. Unknown directives are copied through.
std::string format_date(const DateTime& date, std::string_view format);

struct RenderOptions {
  std::optional<DateTime> now;  // enables the global strftime_now(format)
};

class Template {
 public:
  // Lexes and parses; syntax errors name the line. Limits apply to this template's renders too.
  static Result<Template> parse(std::string_view source, const Limits& limits = {});

  // `context` must be a JSON object; its keys become template variables (messages, tools,
  // add_generation_prompt, bos_token, ...). Errors (raise_exception, limits, type errors) are
  // kInvalidArgument with the template line.
  Result<std::string> render(const OrderedJson& context, const RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> body_;
  Limits limits_;
};

}  // namespace llm::jinja
