// str(a, b, c): concatenates anything that has operator<<; for error messages.
#pragma once

#include <sstream>
#include <string>

namespace llm {

template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace llm
