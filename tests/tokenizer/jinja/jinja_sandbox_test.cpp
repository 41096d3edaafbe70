// Hostile templates (reliability.md: chat templates are model-file input; CVE-2024-34359 class):
// each must end quickly with an error that names the limit, never hang, crash or reach the host.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tokenizer/jinja/jinja.h"

namespace llm::jinja {
namespace {

struct Outcome {
  Result<std::string> result;
  double seconds;
};

Outcome render(const std::string& source, const Limits& limits = {}) {
  auto start = std::chrono::steady_clock::now();
  Result<std::string> result = [&]() -> Result<std::string> {
    Result<Template> t = Template::parse(source, limits);
    if (!t.ok()) return t.error();
    return t->render(OrderedJson::object({{"messages", OrderedJson::array({{{"role", "user"}, {"content", "hi"}}})}}));
  }();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {std::move(result), seconds};
}

void expect_error_naming(const std::string& source, const std::string& needle, const Limits& limits = {}) {
  Outcome o = render(source, limits);
  ASSERT_FALSE(o.result.ok()) << "rendered: " << o.result->substr(0, 200);
  EXPECT_NE(o.result.error().message.find(needle), std::string::npos) << source.substr(0, 40) << ": " << o.result.error().message;
  EXPECT_LT(o.seconds, 10.0) << "limit took too long to trigger";
}

TEST(JinjaSandbox, NestedRangesHitStepLimit) {
  expect_error_naming("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "max_steps");
}

TEST(JinjaSandbox, HugeStringRepetition) {
  expect_error_naming("{{ 'x' * 1000000000 }}", "max_string_bytes");
  expect_error_naming("{{ 'abc' * 9223372036854775807 }}", "max_string_bytes");
}

TEST(JinjaSandbox, StringDoublingLoop) {
  expect_error_naming("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
                      "max_string_bytes");
}

TEST(JinjaSandbox, HugeListRepetitionAndRange) {
  expect_error_naming("{{ [1, 2] * 100000000 }}", "max_collection_size");
  expect_error_naming("{% for i in range(1000000000000) %}{% endfor %}", "max_collection_size");
  expect_error_naming("{% for i in range(-9223372036854775807, 9223372036854775807) %}{% endfor %}", "max_collection_size");
}

TEST(JinjaSandbox, ExponentialAliasingInToJson) {
  // Sharing makes [l, l] cheap to build; serializing it is 2^60 work, so the walk is budgeted.
  expect_error_naming("{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
                      "{{ ns.l | tojson }}",
                      "limit");
  expect_error_naming("{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
                      "limit");
}

TEST(JinjaSandbox, MacroRecursionHitsDepthLimit) {
  expect_error_naming("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "max_render_depth");
}

TEST(JinjaSandbox, DeepExpressionNestingHitsParseLimit) {
  expect_error_naming("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}", "max_nesting_depth");
  expect_error_naming("{{ " + std::string(100000, '[') + std::string(100000, ']') + " }}", "max_nesting_depth");
  std::string nested_ifs;
  for (int i = 0; i < 5000; ++i) nested_ifs += "{% if true %}";
  expect_error_naming(nested_ifs, "max_nesting_depth");
  expect_error_naming("{{ " + std::string(100000, '-') + "1 }}", "max_nesting_depth");
  expect_error_naming("{{ " + [] { std::string s; for (int i = 0; i < 50000; ++i) s += "not "; return s; }() + "1 }}",
                      "max_nesting_depth");
}

TEST(JinjaSandbox, OutputLimit) {
  Limits limits;
  limits.max_output_bytes = 1000;
  expect_error_naming("{% for i in range(1000) %}xxxxxxxxxx{% endfor %}", "max_output_bytes", limits);
}

TEST(JinjaSandbox, TemplateSizeLimit) {
  Limits limits;
  limits.max_template_bytes = 10;
  expect_error_naming("0123456789ABC", "max_template_bytes", limits);
}

TEST(JinjaSandbox, NoAttributeWalkToHost) {
  expect_error_naming("{{ ''.__class__ }}", "not allowed");
  expect_error_naming("{{ ''.__class__.__mro__[1].__subclasses__() }}", "not allowed");
  expect_error_naming("{{ messages.__class__ }}", "not allowed");
  expect_error_naming("{{ messages[0]['__class__'] }}", "not allowed");
  expect_error_naming("{{ range.__globals__ }}", "not allowed");
  expect_error_naming("{{ self.__init__.__globals__ }}", "not allowed");
  expect_error_naming("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "not allowed");
  expect_error_naming("{{ lipsum() }}", "not callable");
  expect_error_naming("{{ ''.format_map({}) }}", "no method");
}

TEST(JinjaSandbox, NoTemplateLoading) {
  for (const char* tag : {"{% include 'x' %}", "{% import 'x' as y %}", "{% extends 'x' %}", "{% from 'x' import y %}"}) {
    Outcome o = render(tag);
    ASSERT_FALSE(o.result.ok()) << tag;
    EXPECT_EQ(o.result.error().code, ErrorCode::kUnsupported) << tag;
  }
}

TEST(JinjaSandbox, NoClockWithoutNow) {
  Outcome o = render("{% if strftime_now is defined %}clock{% else %}no clock{% endif %}");
  ASSERT_TRUE(o.result.ok()) << o.result.error().to_string();
  EXPECT_EQ(*o.result, "no clock");
}

TEST(JinjaSandbox, SyntaxErrorsNameTheLine) {
  Outcome o = render("line1\n{% if x %}\nno endif");
  ASSERT_FALSE(o.result.ok());
  EXPECT_NE(o.result.error().message.find("endif"), std::string::npos) << o.result.error().message;
  for (const char* bad : {"{{", "{{ 'unterminated }}", "{% for %}", "{% endfor %}", "{{ 1 + }}", "{# never closed",
                          "{{ a[1:2:3:4] }}", "{% set %}", "{{ 99999999999999999999 }}", "{% macro (x) %}{% endmacro %}"}) {
    Outcome r = render(bad);
    EXPECT_FALSE(r.result.ok()) << bad;
  }
}

TEST(JinjaSandbox, IntegerOverflowIsAnError) {
  expect_error_naming("{{ 9223372036854775807 + 1 }}", "overflow");
  expect_error_naming("{{ 2 ** 100 }}", "overflow");
  expect_error_naming("{{ -9223372036854775807 - 2 }}", "overflow");
}

}  // namespace
}  // namespace llm::jinja
