// Added tokens (special tokens such as <|eot_id|>, user-defined tokens) are matched in the text
// before the model runs, leftmost-longest like Hugging Face's AddedVocabulary. A byte trie keeps
// matching linear in the text for any number of added tokens.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llm {

struct AddedToken {
  std::string text;
  int32_t id = -1;
  bool special = true;  // matched only with EncodeOptions::parse_special
};

// A piece of the input: plain text (token < 0) or one matched added token.
struct TextFragment {
  size_t offset = 0;
  size_t length = 0;
  int32_t token = -1;
};

class AddedTokenMatcher {
 public:
  // Empty texts are ignored; a later duplicate text replaces an earlier one.
  void add(const AddedToken& token);
  bool empty() const { return nodes_.size() <= 1; }

  // Splits `text` into fragments; with parse_special false only non-special tokens match.
  std::vector<TextFragment> split(std::string_view text, bool parse_special) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, uint32_t>> children;  // byte -> node index, sorted by byte
    int32_t token = -1;
    bool special = false;
  };
  uint32_t child(uint32_t node, uint8_t byte) const;

  std::vector<Node> nodes_{Node{}};
  std::bitset<256> first_bytes_;
};

}  // namespace llm
