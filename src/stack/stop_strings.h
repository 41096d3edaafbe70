// Stop strings over a text stream: text that might be the start of a stop string is held back
// until it is known not to be, so a stop string split across tokens is never emitted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llm::stack {

class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stops);

  // The text that is safe to emit now. Once a stop string is found, the text before it is
  // returned, matched() turns true and later pushes return nothing.
  std::string push(std::string_view text);
  // The held-back tail (a partial match that never completed).
  std::string finish();
  bool matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
};

}  // namespace llm::stack
