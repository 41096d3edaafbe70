#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cstring>

namespace llm {

static constexpr uint32_t kNoNode = 0;  // the root is never a child, so 0 can mean "none"

uint32_t AddedTokenMatcher::child(uint32_t node, uint8_t byte) const {
  const auto& children = nodes_[node].children;
  const auto it = std::lower_bound(children.begin(), children.end(), byte,
                                   [](const std::pair<uint8_t, uint32_t>& c, uint8_t b) { return c.first < b; });
  return it != children.end() && it->first == byte ? it->second : kNoNode;
}

void AddedTokenMatcher::add(const AddedToken& token) {
  if (token.text.empty()) return;
  uint32_t node = 0;
  for (const char c : token.text) {
    const auto byte = static_cast<uint8_t>(c);
    uint32_t next = child(node, byte);
    if (next == kNoNode) {
      next = static_cast<uint32_t>(nodes_.size());
      nodes_.push_back(Node{});
      auto& children = nodes_[node].children;
      const auto it = std::lower_bound(children.begin(), children.end(), byte,
                                       [](const std::pair<uint8_t, uint32_t>& c, uint8_t b) { return c.first < b; });
      children.insert(it, {byte, next});
    }
    node = next;
  }
  nodes_[node].token = token.id;
  nodes_[node].special = token.special;
  first_bytes_.set(static_cast<uint8_t>(token.text[0]));
}

std::vector<TextFragment> AddedTokenMatcher::split(std::string_view text, bool parse_special) const {
  std::vector<TextFragment> fragments;
  size_t text_start = 0;  // start of the pending plain-text fragment
  size_t i = 0;
  while (i < text.size()) {
    if (!first_bytes_.test(static_cast<uint8_t>(text[i]))) {
      ++i;
      continue;
    }
    // Walk the trie from i, remembering the longest allowed match.
    uint32_t node = 0;
    size_t best_length = 0;
    int32_t best_token = -1;
    for (size_t j = i; j < text.size(); ++j) {
      node = child(node, static_cast<uint8_t>(text[j]));
      if (node == kNoNode) break;
      const Node& n = nodes_[node];
      if (n.token >= 0 && (parse_special || !n.special)) {
        best_length = j - i + 1;
        best_token = n.token;
      }
    }
    if (best_token < 0) {
      ++i;
      continue;
    }
    if (i > text_start) fragments.push_back({text_start, i - text_start, -1});
    fragments.push_back({i, best_length, best_token});
    i += best_length;
    text_start = i;
  }
  if (text.size() > text_start) fragments.push_back({text_start, text.size() - text_start, -1});
  return fragments;
}

}  // namespace llm
