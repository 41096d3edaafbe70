#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <queue>

#include "tokenizer/utf8.h"
#include "util/str.h"

namespace llm {

namespace {
constexpr uint8_t kPresent = 1;
constexpr uint8_t kSpecial = 2;
constexpr uint8_t kAdded = 4;
// Pieces up to this many symbols merge by a quadratic scan, which beats a heap on short words;
// longer pieces (long words, CJK runs, hostile input) use the O(n log n) heap.
constexpr size_t kHeapMergeThreshold = 24;
}  // namespace

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::create(BpeSpec spec) {
  const std::string subject = tokenizer_kind_name(spec.kind);
  if (spec.tokens.size() != spec.present.size()) {
    return make_error(ErrorCode::kInternal, str(subject, ": ", spec.tokens.size(), " tokens but ",
                                                spec.present.size(), " presence flags"));
  }
  size_t vocab_size = spec.tokens.size();
  for (const AddedToken& added : spec.added_tokens) {
    if (added.id < 0 || static_cast<size_t>(added.id) >= kTokenizerMaxVocab) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": added token '", added.text, "' has id ", added.id,
                                                       ", expected 0..", kTokenizerMaxVocab - 1));
    }
    if (added.text.empty()) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": added token ", added.id, " has empty text"));
    }
    vocab_size = std::max(vocab_size, static_cast<size_t>(added.id) + 1);
  }
  if (vocab_size == 0 || vocab_size > kTokenizerMaxVocab) {
    return make_error(ErrorCode::kInvalidFormat,
                      str(subject, ": vocabulary of ", vocab_size, " tokens, expected 1..", kTokenizerMaxVocab));
  }
  auto regex = PreTokenizerRegex::compile(spec.pattern, subject + " pre-tokenizer");
  if (!regex) return regex.error();

  auto tok = std::unique_ptr<BpeTokenizer>(new BpeTokenizer());
  tok->kind_ = spec.kind;
  tok->special_ids_ = spec.special_ids;
  tok->chat_template_ = std::move(spec.chat_template);
  tok->ignore_merges_ = spec.ignore_merges;
  tok->regex_ = std::move(*regex);
  tok->tokens_ = std::move(spec.tokens);
  tok->tokens_.resize(vocab_size);
  tok->flags_.assign(vocab_size, 0);
  for (size_t id = 0; id < spec.present.size(); ++id) tok->flags_[id] = spec.present[id] ? kPresent : 0;
  for (const AddedToken& added : spec.added_tokens) {
    // An added token may also be a model token (GGUF lists specials in the vocabulary); the
    // added text wins, as in Hugging Face.
    tok->tokens_[added.id] = added.text;
    tok->flags_[added.id] = kPresent | kAdded | (added.special ? kSpecial : 0);
    tok->added_.add(added);
  }
  // tokens_ is final from here on: the maps below hold views into it.
  tok->model_token_ids_.reset(&tok->tokens_, vocab_size);
  for (size_t id = 0; id < vocab_size; ++id) {
    const uint8_t flags = tok->flags_[id];
    if (!(flags & kPresent)) continue;
    const std::string_view text = tok->tokens_[id];
    if (flags & kAdded) {
      tok->added_token_ids_.emplace(text, static_cast<int32_t>(id));
      continue;
    }
    // Empty and duplicate token texts occur in real GGUF vocabularies; such ids can still be
    // decoded but encoding never produces them (the first id of a text wins).
    if (!text.empty()) tok->model_token_ids_.insert(static_cast<int32_t>(id));
  }
  tok->byte_tokens_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    const char byte = static_cast<char>(b);
    tok->byte_tokens_[b] = tok->model_token_ids_.find(std::string_view(&byte, 1));
  }

  if (spec.merges_from_ranks) {
    // tiktoken merges any adjacent pair whose concatenation is a token, ranked by that token's id.
    // Enumerating every split of every token yields exactly those pairs.
    for (size_t id = 0; id < spec.present.size(); ++id) {
      if (!(tok->flags_[id] & kPresent) || (tok->flags_[id] & kAdded)) continue;
      const std::string_view text = tok->tokens_[id];
      for (size_t k = 1; k < text.size(); ++k) {
        const int32_t left = tok->model_token_ids_.find(text.substr(0, k));
        if (left < 0) continue;
        const int32_t right = tok->model_token_ids_.find(text.substr(k));
        if (right < 0) continue;
        tok->merges_.insert_if_absent(pair_key(left, right), static_cast<int32_t>(id), static_cast<int32_t>(id));
      }
    }
  } else {
    if (spec.merges.size() > kTokenizerMaxMerges) {
      return make_error(ErrorCode::kInvalidFormat,
                        str(subject, ": ", spec.merges.size(), " merges, expected at most ", kTokenizerMaxMerges));
    }
    tok->merges_.reserve(spec.merges.size());
    std::string joined;
    for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
      const auto [left, right] = spec.merges[rank];
      const auto valid = [&](int32_t id) {
        return id >= 0 && static_cast<size_t>(id) < vocab_size && (tok->flags_[id] & kPresent);
      };
      if (!valid(left) || !valid(right)) {
        return make_error(ErrorCode::kInvalidFormat, str(subject, ": merge ", rank, " names token ids ", left, " and ",
                                                         right, ", expected tokens of the vocabulary"));
      }
      joined = tok->tokens_[left];
      joined += tok->tokens_[right];
      const int32_t result = tok->model_token_ids_.find(joined);
      if (result < 0) {
        return make_error(ErrorCode::kInvalidFormat, str(subject, ": merge ", rank, " (", utf8_sanitize(tok->tokens_[left]),
                                                         " + ", utf8_sanitize(tok->tokens_[right]),
                                                         ") makes a token that is not in the vocabulary"));
      }
      // The first (highest-priority) occurrence of a pair wins, as in Hugging Face.
      tok->merges_.insert_if_absent(pair_key(left, right), static_cast<int32_t>(rank), result);
    }
  }
  return tok;
}

Status BpeTokenizer::bytes_to_symbols(std::string_view piece, std::vector<int32_t>& symbols) const {
  symbols.clear();
  for (const char c : piece) {
    const int32_t id = byte_tokens_[static_cast<unsigned char>(c)];
    if (id < 0) {
      if (special_ids_.unk < 0) {
        return make_error(ErrorCode::kUnsupported,
                          str(tokenizer_kind_name(kind_), ": the vocabulary has no token for byte 0x", std::hex,
                              static_cast<int>(static_cast<unsigned char>(c)), " and no unknown token"));
      }
      symbols.push_back(special_ids_.unk);
    } else {
      symbols.push_back(id);
    }
  }
  return {};
}

Status BpeTokenizer::encode_piece_reference(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<int32_t> symbols;
  if (Status s = bytes_to_symbols(piece, symbols); !s) return s;
  while (symbols.size() > 1) {
    const FlatPairTable::Entry* best = nullptr;
    size_t best_pos = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const FlatPairTable::Entry* merge = find_merge(symbols[i], symbols[i + 1]);
      if (merge != nullptr && (best == nullptr || merge->first < best->first)) {
        best = merge;
        best_pos = i;
      }
    }
    if (best == nullptr) break;
    symbols[best_pos] = best->second;
    symbols.erase(symbols.begin() + static_cast<ptrdiff_t>(best_pos) + 1);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
  return {};
}

Status BpeTokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    if (const int32_t id = model_token_ids_.find(piece); id >= 0) {
      out.push_back(id);
      return {};
    }
  }
  if (piece.size() <= kHeapMergeThreshold) {
    // Short pieces: a linear scan for the lowest rank over cached pair ranks; after a merge only
    // the two pairs next to it change.
    constexpr int32_t kNone = INT32_MAX;
    int32_t ids[kHeapMergeThreshold];
    int32_t ranks[kHeapMergeThreshold];  // ranks[i]: merge rank of (ids[i], ids[i + 1])
    std::fill(std::begin(ranks), std::end(ranks), kNone);
    size_t n = 0;
    for (const char c : piece) {
      const int32_t id = byte_tokens_[static_cast<unsigned char>(c)];
      if (id < 0) return encode_piece_reference(piece, out);  // <unk> or the error
      ids[n++] = id;
    }
    const auto rank_of = [&](size_t i) {
      const FlatPairTable::Entry* m = find_merge(ids[i], ids[i + 1]);
      return m ? m->first : kNone;
    };
    for (size_t i = 0; i + 1 < n; ++i) ranks[i] = rank_of(i);
    while (n > 1) {
      size_t best = 0;
      for (size_t i = 1; i + 1 < n; ++i) {
        if (ranks[i] < ranks[best]) best = i;
      }
      if (ranks[best] == kNone) break;
      ids[best] = find_merge(ids[best], ids[best + 1])->second;
      for (size_t i = best + 1; i + 1 < n; ++i) {
        ids[i] = ids[i + 1];
        ranks[i] = ranks[i + 1];
      }
      --n;
      if (best + 1 < n) ranks[best] = rank_of(best);
      if (best > 0) ranks[best - 1] = rank_of(best - 1);
    }
    out.insert(out.end(), ids, ids + n);
    return {};
  }

  // Heap merge: a doubly linked list of symbols and a min-heap of candidate pairs by (rank,
  // position). Entries go stale when a neighbour merges; they are recognised by the ids they
  // recorded and skipped.
  std::vector<int32_t> ids;
  if (Status s = bytes_to_symbols(piece, ids); !s) return s;
  const auto n = static_cast<int32_t>(ids.size());
  std::vector<int32_t> prev(n), next(n);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank, pos, left, right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    if (const auto* m = find_merge(ids[pos], ids[next[pos]])) heap.push({m->first, pos, ids[pos], ids[next[pos]]});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const int32_t right = next[c.pos];
    if (ids[c.pos] != c.left || right < 0 || ids[right] != c.right) continue;  // stale
    ids[c.pos] = find_merge(c.left, c.right)->second;
    ids[right] = -1;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(ids[i]);
  return {};
}

Status BpeTokenizer::encode_text(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<std::pair<size_t, size_t>> pieces;
  if (Status s = regex_.split(text, pieces); !s) return s;
  for (const auto& [offset, length] : pieces) {
    if (Status s = encode_piece(text.substr(offset, length), out); !s) return s;
  }
  return {};
}

Result<std::vector<int32_t>> BpeTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  if (text.size() > kTokenizerMaxTextBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("text to tokenize has ", text.size(), " bytes, expected at most ", kTokenizerMaxTextBytes));
  }
  if (const size_t bad = utf8_first_invalid(text); bad != text.size()) {
    return make_error(ErrorCode::kInvalidArgument, str("text to tokenize is not valid UTF-8 at byte ", bad, " (0x",
                                                       std::hex, static_cast<int>(static_cast<unsigned char>(text[bad])),
                                                       ")"));
  }
  std::vector<int32_t> out;
  if (options.add_bos && special_ids_.add_bos && special_ids_.bos >= 0) out.push_back(special_ids_.bos);
  if (added_.empty()) {
    if (Status s = encode_text(text, out); !s) return s.error();
  } else {
    for (const TextFragment& fragment : added_.split(text, options.parse_special)) {
      if (fragment.token >= 0) {
        out.push_back(fragment.token);
      } else if (Status s = encode_text(text.substr(fragment.offset, fragment.length), out); !s) {
        return s.error();
      }
    }
  }
  if (options.add_bos && special_ids_.add_eos && special_ids_.eos >= 0) out.push_back(special_ids_.eos);
  return out;
}

Result<std::string> BpeTokenizer::token_to_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_size() || !(flags_[id] & kPresent)) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("token id ", id, " is not in the vocabulary (", vocab_size(), " ids)"));
  }
  return tokens_[id];
}

bool BpeTokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && (flags_[id] & kSpecial);
}

std::optional<int32_t> BpeTokenizer::token_id(std::string_view text) const {
  if (const auto it = added_token_ids_.find(text); it != added_token_ids_.end()) return it->second;
  if (const int32_t id = model_token_ids_.find(text); id >= 0) return id;
  return std::nullopt;
}

}  // namespace llm
