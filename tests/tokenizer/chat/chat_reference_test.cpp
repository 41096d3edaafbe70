// Exact match against transformers' apply_chat_template (tokenize=False), run on real models'
// templates by tools/chat/make_references.py. Fixtures: tests/fixtures/chat/*_reference.json.
#include <gtest/gtest.h>

#include "tokenizer/chat/chat_test_util.h"

namespace llm::chat {
namespace {

using testing::messages_from_json;
using testing::options_from_case;
using testing::read_text;

const std::string kSource = LLAMA_SOURCE_DIR;

struct Reference {
  std::string fixture;        // under tests/fixtures/chat/
  std::string template_path;  // under the source dir; fetched by tools/chat/fetch_template.sh if in .cache
  bool from_tokenizer_config;  // the file is a tokenizer_config.json holding "chat_template"
};

std::string load_template(const Reference& ref) {
  std::string text = read_text(kSource + "/" + ref.template_path);
  if (text.empty() || !ref.from_tokenizer_config) return text;
  OrderedJson config = OrderedJson::parse(text, nullptr, false);
  if (config.is_discarded() || !config.contains("chat_template") || !config["chat_template"].is_string()) return {};
  return config["chat_template"].get<std::string>();
}

void check_reference(const Reference& ref, bool also_native_llama3) {
  OrderedJson fixture = OrderedJson::parse(read_text(kSource + "/tests/fixtures/chat/" + ref.fixture), nullptr, false);
  ASSERT_FALSE(fixture.is_discarded()) << ref.fixture;
  std::string source = load_template(ref);
  if (source.empty()) GTEST_SKIP() << ref.template_path << " missing: run tools/chat/fetch_template.sh";
  ASSERT_GT(fixture["cases"].size(), 0u);
  for (const OrderedJson& c : fixture["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    std::vector<ChatMessage> messages = messages_from_json(c["messages"]);
    ChatRenderOptions options = options_from_case(c);
    Result<std::string> rendered = render_chat(source, messages, options);
    if (c.contains("error")) {
      EXPECT_FALSE(rendered.ok()) << "reference failed with " << c["error"];
      if (also_native_llama3) {
        EXPECT_FALSE(render_llama3(messages, options).ok());
      }
      continue;
    }
    ASSERT_TRUE(rendered.ok()) << rendered.error().to_string();
    EXPECT_EQ(*rendered, c["expected"].get<std::string>());
    if (also_native_llama3) {
      Result<std::string> native = render_llama3(messages, options);
      ASSERT_TRUE(native.ok()) << native.error().to_string();
      EXPECT_EQ(*native, c["expected"].get<std::string>()) << "native Llama 3 format differs from the template";
    }
  }
}

TEST(ChatReference, Llama31InstructTemplate) {
  check_reference({"llama3_1_reference.json", "tests/fixtures/chat/templates/llama3_1_instruct.jinja", false}, true);
}

TEST(ChatReference, Llama3TemplateFromNpm) {
  check_reference({"llama3_reference.json", ".cache/chat/npm/tokenizer-llama3_1/package/models/tokenizer_config.json", true},
                  false);
}

}  // namespace
}  // namespace llm::chat
