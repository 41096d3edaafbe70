// LLM_CHECK: broken invariants (programming errors), never input errors. Aborts with file:line,
// the condition, and a message naming subject, expected and actual.
#pragma once

#include <string>

#include "util/str.h"

namespace llm {

[[noreturn]] void check_failed(const char* file, int line, const char* condition, const std::string& message);

}  // namespace llm

#define LLM_CHECK(condition, ...)                                                            \
  do {                                                                                       \
    if (!(condition)) [[unlikely]] {                                                         \
      ::llm::check_failed(__FILE__, __LINE__, #condition, ::llm::str("" __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                                        \
  } while (false)
