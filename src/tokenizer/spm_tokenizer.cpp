#include "tokenizer/spm_tokenizer.h"

#include <sentencepiece_processor.h>

#include <queue>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/str.h"

namespace llm {

namespace {
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// "<0x41>" -> 0x41; -1 if the piece is not in that form.
int parse_byte_piece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = piece[i];
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}
}  // namespace

SpmTokenizer::SpmTokenizer() = default;
SpmTokenizer::~SpmTokenizer() = default;

Result<std::unique_ptr<SpmTokenizer>> SpmTokenizer::create(SpmSpec spec) {
  const std::string subject = tokenizer_kind_name(spec.kind);
  const size_t n = spec.pieces.size();
  if (n == 0 || n > kTokenizerMaxVocab) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", n, " tokens, expected 1..", kTokenizerMaxVocab));
  }
  if (spec.scores.size() != n || spec.types.size() != n) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", n, " tokens but ", spec.scores.size(),
                                                     " scores and ", spec.types.size(), " token types"));
  }
  auto tok = std::unique_ptr<SpmTokenizer>(new SpmTokenizer());
  tok->kind_ = spec.kind;
  tok->special_ids_ = spec.special_ids;
  tok->chat_template_ = std::move(spec.chat_template);
  tok->add_space_prefix_ = spec.add_space_prefix;
  tok->pieces_ = std::move(spec.pieces);
  tok->scores_ = std::move(spec.scores);
  tok->types_ = std::move(spec.types);
  tok->byte_tokens_.fill(-1);
  tok->piece_ids_.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    const std::string& piece = tok->pieces_[id];
    if (piece.size() > kTokenizerMaxTokenBytes) {
      return make_error(ErrorCode::kInvalidFormat, str(subject, ": token ", id, " has ", piece.size(),
                                                       " bytes, expected at most ", kTokenizerMaxTokenBytes));
    }
    // llama.cpp's token_to_id: a later duplicate text replaces an earlier one.
    tok->piece_ids_[piece] = static_cast<int32_t>(id);
    const auto type = tok->types_[id];
    switch (type) {
      case SpmPieceType::kByte: {
        const int byte = parse_byte_piece(piece);
        if (byte < 0) {
          return make_error(ErrorCode::kInvalidFormat, str(subject, ": byte token ", id, " is '", utf8_sanitize(piece),
                                                           "', expected <0xXX>"));
        }
        tok->byte_tokens_[byte] = static_cast<int32_t>(id);
        break;
      }
      case SpmPieceType::kControl:
      case SpmPieceType::kUnknown:
        tok->added_.add({piece, static_cast<int32_t>(id), /*special=*/true});
        break;
      case SpmPieceType::kUserDefined:
        tok->added_.add({piece, static_cast<int32_t>(id), /*special=*/false});
        break;
      case SpmPieceType::kNormal:
      case SpmPieceType::kUnused:
        break;
    }
  }
  return tok;
}

Result<std::unique_ptr<SpmTokenizer>> SpmTokenizer::from_protobuf(std::string_view serialized,
                                                                  const std::string& subject) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = processor->LoadFromSerializedProto(serialized);
  if (!status.ok()) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": not a SentencePiece model: ", status.ToString()));
  }
  SpmSpec spec;
  spec.kind = TokenizerKind::kSentencePiece;
  const int n = processor->GetPieceSize();
  if (n <= 0 || static_cast<size_t>(n) > kTokenizerMaxVocab) {
    return make_error(ErrorCode::kInvalidFormat, str(subject, ": ", n, " pieces, expected 1..", kTokenizerMaxVocab));
  }
  for (int id = 0; id < n; ++id) {
    spec.pieces.push_back(processor->IdToPiece(id));
    spec.scores.push_back(processor->GetScore(id));
    SpmPieceType type = SpmPieceType::kNormal;
    if (processor->IsUnknown(id)) type = SpmPieceType::kUnknown;
    else if (processor->IsControl(id)) type = SpmPieceType::kControl;
    else if (processor->IsByte(id)) type = SpmPieceType::kByte;
    else if (processor->IsUnused(id)) type = SpmPieceType::kUnused;
    spec.types.push_back(type);
  }
  spec.special_ids.bos = processor->bos_id();
  spec.special_ids.eos = processor->eos_id();
  spec.special_ids.unk = processor->unk_id();
  spec.special_ids.pad = processor->pad_id();
  spec.special_ids.add_bos = spec.special_ids.bos >= 0;  // Llama 2 always starts with <s>
  // SentencePiece decides the dummy prefix itself; decoding drops it as sp.Decode does.
  spec.add_space_prefix = true;
  auto tok = create(std::move(spec));
  if (!tok) return tok.error();
  (*tok)->processor_ = std::move(processor);
  return tok;
}

Status SpmTokenizer::merge_fragment(std::string_view text, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t prev, next;
    size_t offset, length;  // length 0: merged into its left neighbour
  };
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    const size_t n = std::max<size_t>(1, utf8_valid_sequence_at(text, offset));
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + n < text.size() ? index + 1 : -1, offset, n});
    offset += n;
  }
  struct Bigram {
    float score;
    int32_t left, right;
    size_t length;
  };
  // Highest score first; on ties the leftmost pair (llama.cpp llm_bigram_spm::comparator).
  const auto lower = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower)> queue(lower);
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const size_t length = symbols[left].length + symbols[right].length;
    const auto it = piece_ids_.find(text.substr(symbols[left].offset, length));
    if (it == piece_ids_.end()) return;
    queue.push({scores_[it->second], left, right, length});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: one side already merged elsewhere.
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }
  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].offset, symbols[i].length);
    if (const auto it = piece_ids_.find(piece); it != piece_ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    // Only single characters can be unknown (merges only ever form tokens): byte fallback.
    for (const char c : piece) {
      const int32_t id = byte_tokens_[static_cast<unsigned char>(c)];
      if (id >= 0) {
        out.push_back(id);
      } else if (special_ids_.unk >= 0) {
        out.push_back(special_ids_.unk);
        break;  // one <unk> per character, as SentencePiece without byte fallback
      } else {
        return make_error(ErrorCode::kUnsupported, str(tokenizer_kind_name(kind_), ": no token for character '",
                                                       utf8_sanitize(piece), "' and no byte or unknown token"));
      }
    }
  }
  return {};
}

Result<std::vector<int32_t>> SpmTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
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
  // As llama.cpp: each text fragment that starts the input or follows an added token gets the
  // dummy-prefix space (SentencePiece adds it per Encode call, which matches).
  bool after_token = true;
  std::string escaped;
  for (const TextFragment& fragment : added_.split(text, options.parse_special)) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      after_token = true;
      continue;
    }
    const std::string_view raw = text.substr(fragment.offset, fragment.length);
    if (processor_) {
      std::vector<int> ids;
      const auto status = processor_->Encode(raw, &ids);
      if (!status.ok()) {
        return make_error(ErrorCode::kInvalidArgument, str("SentencePiece encode failed: ", status.ToString()));
      }
      out.insert(out.end(), ids.begin(), ids.end());
    } else {
      escaped.clear();
      if (add_space_prefix_ && after_token) escaped += kSpaceMarker;
      for (const char c : raw) {
        if (c == ' ') escaped += kSpaceMarker;
        else escaped += c;
      }
      if (Status s = merge_fragment(escaped, out); !s) return s.error();
    }
    after_token = false;
  }
  if (options.add_bos && special_ids_.add_eos && special_ids_.eos >= 0) out.push_back(special_ids_.eos);
  return out;
}

Result<std::string> SpmTokenizer::token_to_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      str("token id ", id, " is not in the vocabulary (", vocab_size(), " ids)"));
  }
  const std::string& piece = pieces_[id];
  switch (types_[id]) {
    case SpmPieceType::kByte: return std::string(1, static_cast<char>(parse_byte_piece(piece)));
    case SpmPieceType::kControl:
    case SpmPieceType::kUnknown:
    case SpmPieceType::kUserDefined: return piece;
    case SpmPieceType::kNormal:
    case SpmPieceType::kUnused: break;
  }
  std::string bytes;
  bytes.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (std::string_view(piece).substr(i, 3) == kSpaceMarker) {
      bytes += ' ';
      i += 3;
    } else {
      bytes += piece[i++];
    }
  }
  return bytes;
}

bool SpmTokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return false;
  switch (types_[id]) {
    case SpmPieceType::kControl:
    case SpmPieceType::kUnknown: return true;
    case SpmPieceType::kNormal:
    case SpmPieceType::kUserDefined:
    case SpmPieceType::kUnused:
    case SpmPieceType::kByte: return false;
  }
  return false;
}

std::optional<int32_t> SpmTokenizer::token_id(std::string_view text) const {
  const auto it = piece_ids_.find(text);
  if (it == piece_ids_.end()) return std::nullopt;
  return it->second;
}

}  // namespace llm
