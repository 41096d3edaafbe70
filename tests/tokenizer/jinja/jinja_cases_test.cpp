// Interpreter cases checked against real jinja2: tests/fixtures/chat/jinja_cases.json was made by
// `tools/chat/make_references.py cases tools/chat/jinja_cases.json ...` with jinja2 configured as
// transformers configures it. A case with "error" must fail here too (messages differ by design).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tokenizer/jinja/jinja.h"

namespace llm::jinja {
namespace {

OrderedJson load_cases() {
  std::ifstream in(std::string(LLAMA_SOURCE_DIR) + "/tests/fixtures/chat/jinja_cases.json");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return OrderedJson::parse(buffer.str());
}

TEST(JinjaCases, MatchJinja2) {
  OrderedJson cases = load_cases();
  ASSERT_TRUE(cases.is_array());
  ASSERT_GT(cases.size(), 50u);
  for (const OrderedJson& c : cases) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name);
    RenderOptions options;
    if (c.contains("now")) {
      const OrderedJson& n = c["now"];
      options.now = DateTime{n[0].get<int>(), n[1].get<int>(), n[2].get<int>(), n[3].get<int>(), n[4].get<int>(), n[5].get<int>()};
    }
    Result<std::string> rendered = [&]() -> Result<std::string> {
      Result<Template> t = Template::parse(c["template"].get<std::string>());
      if (!t.ok()) return t.error();
      return t->render(c["context"], options);
    }();
    if (c.contains("error")) {
      EXPECT_FALSE(rendered.ok()) << "jinja2 failed with " << c["error"] << " but we rendered: " << *rendered;
      continue;
    }
    ASSERT_TRUE(rendered.ok()) << rendered.error().to_string();
    EXPECT_EQ(*rendered, c["expected"].get<std::string>());
  }
}

}  // namespace
}  // namespace llm::jinja
