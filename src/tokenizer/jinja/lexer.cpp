#include "tokenizer/jinja/lexer.h"

#include <cstdlib>

#include "util/str.h"

namespace llm::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

class Lexer {
 public:
  Lexer(std::string_view source, const LexOptions& options) : src_(source), options_(options) {}

  Result<std::vector<Token>> run() {
    size_t pos = 0;
    bool strip_next_text = false;  // the previous tag ended with "-"
    while (pos < src_.size()) {
      size_t tag = find_tag(pos);
      std::string text(src_.substr(pos, tag - pos));
      if (strip_next_text) {
        size_t first = 0;
        while (first < text.size() && is_space(text[first])) ++first;
        text.erase(0, first);
      }
      // Jinja's lstrip_blocks looks at whether this chunk starts a line.
      bool line_starting = pos == 0 || src_[pos - 1] == '\n';
      strip_next_text = false;
      if (tag == src_.size()) {
        emit_text(text, pos);
        break;
      }
      char kind = src_[tag + 1];  // '{', '%' or '#'
      char modifier = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (modifier == '-') {
        size_t keep = text.size();
        while (keep > 0 && is_space(text[keep - 1])) --keep;
        text.resize(keep);
      } else if (modifier != '+' && kind != '{' && options_.lstrip_blocks) {
        size_t line_start = text.rfind('\n');
        line_start = line_start == std::string::npos ? 0 : line_start + 1;
        if (line_start > 0 || line_starting) {
          bool only_blanks = true;
          for (size_t i = line_start; i < text.size(); ++i) {
            if (text[i] != ' ' && text[i] != '\t') only_blanks = false;
          }
          if (only_blanks) text.resize(line_start);
        }
      }
      emit_text(text, pos);
      line_ += count_newlines(pos, tag);
      size_t inner = tag + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0);
      Result<size_t> end = kind == '#' ? lex_comment(inner) : lex_tag(inner, kind == '%');
      if (!end.ok()) return end.error();
      pos = *end;
      // pos is just past "}}" / "%}" / "#}"; look at what closed the tag.
      bool closed_with_minus = close_modifier_ == '-';
      bool closed_with_plus = close_modifier_ == '+';
      line_ += count_newlines(tag, pos);
      if (closed_with_minus) {
        strip_next_text = true;
      } else if (kind != '{' && !closed_with_plus && options_.trim_blocks && pos < src_.size() &&
                 src_[pos] == '\n') {
        ++pos;
        ++line_;
      }
      if (kind == '%' && raw_pending_) {
        raw_pending_ = false;
        Result<size_t> after = lex_raw_body(pos, strip_next_text);
        if (!after.ok()) return after.error();
        pos = *after;
        strip_next_text = close_modifier_ == '-';
        if (!strip_next_text && options_.trim_blocks && pos < src_.size() && src_[pos] == '\n') ++pos;
      }
      if (tokens_.size() > options_.max_tokens) {
        return make_error(ErrorCode::kInvalidArgument,
                          str("jinja: template has more than ", options_.max_tokens, " tokens (limit)"));
      }
    }
    tokens_.push_back(Token{TokenKind::kEnd, "", 0, 0, line_});
    return std::move(tokens_);
  }

 private:
  int count_newlines(size_t from, size_t to) const {
    int n = 0;
    for (size_t i = from; i < to && i < src_.size(); ++i) n += src_[i] == '\n';
    return n;
  }

  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return src_.size();
  }

  void emit_text(std::string& text, size_t) {
    if (!text.empty()) tokens_.push_back(Token{TokenKind::kText, std::move(text), 0, 0, line_});
  }

  Error error_at(const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument, str("jinja: line ", line_, ": ", what));
  }

  Result<size_t> lex_comment(size_t pos) {
    size_t end = src_.find("#}", pos);
    if (end == std::string_view::npos) return error_at("unterminated comment: expected '#}'");
    close_modifier_ = end > pos && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : '\0';
    return end + 2;
  }

  // {% raw %}...{% endraw %}: the body is text, tags inside are not interpreted.
  Result<size_t> lex_raw_body(size_t pos, bool strip_leading) {
    size_t search = pos;
    while (true) {
      size_t open = src_.find("{%", search);
      if (open == std::string_view::npos) return error_at("unterminated raw block: expected '{% endraw %}'");
      size_t i = open + 2;
      bool minus_before = i < src_.size() && src_[i] == '-';
      if (minus_before || (i < src_.size() && src_[i] == '+')) ++i;
      while (i < src_.size() && is_space(src_[i])) ++i;
      if (src_.substr(i, 6) == "endraw") {
        i += 6;
        while (i < src_.size() && is_space(src_[i])) ++i;
        if (i < src_.size() && src_[i] == '-') ++i;
        if (src_.substr(i, 2) == "%}") {
          close_modifier_ = src_[i - 1] == '-' ? '-' : '\0';
          std::string body(src_.substr(pos, open - pos));
          if (strip_leading) {
            size_t first = 0;
            while (first < body.size() && is_space(body[first])) ++first;
            body.erase(0, first);
          }
          if (minus_before) {
            while (!body.empty() && is_space(body.back())) body.pop_back();
          }
          emit_text(body, pos);
          line_ += count_newlines(pos, i + 2);
          return i + 2;
        }
      }
      search = open + 2;
    }
  }

  // Lexes expression tokens from pos up to the closing delimiter; returns the position after it.
  Result<size_t> lex_tag(size_t pos, bool is_block) {
    tokens_.push_back(Token{is_block ? TokenKind::kBlockBegin : TokenKind::kVariableBegin, "", 0, 0, line_});
    size_t tag_start_token = tokens_.size();
    int bracket_depth = 0;  // "}}" inside a dict literal is not the end of the tag
    while (true) {
      while (pos < src_.size() && is_space(src_[pos])) ++pos;
      if (pos >= src_.size()) return error_at(is_block ? "unterminated block tag: expected '%}'" : "unterminated expression: expected '}}'");
      std::string_view rest = src_.substr(pos);
      if (bracket_depth == 0) {
        size_t skip = (rest[0] == '-' || rest[0] == '+') ? 1 : 0;
        std::string_view close = is_block ? "%}" : "}}";
        if (rest.substr(skip, 2) == close && (skip == 0 || rest[0] == '-' || is_block)) {
          tokens_.push_back(Token{is_block ? TokenKind::kBlockEnd : TokenKind::kVariableEnd, "", 0, 0, line_});
          size_t end = pos + skip + 2;
          close_modifier_ = skip ? rest[0] : '\0';
          if (is_block && tokens_.size() == tag_start_token + 2 && tokens_[tag_start_token].kind == TokenKind::kName &&
              tokens_[tag_start_token].text == "raw") {
            raw_pending_ = true;
          }
          return end;
        }
      }
      char c = rest[0];
      if (is_name_start(c)) {
        size_t n = 1;
        while (n < rest.size() && is_name_char(rest[n])) ++n;
        tokens_.push_back(Token{TokenKind::kName, std::string(rest.substr(0, n)), 0, 0, line_});
        pos += n;
      } else if (is_digit(c)) {
        Result<size_t> n = lex_number(rest);
        if (!n.ok()) return n.error();
        pos += *n;
      } else if (c == '\'' || c == '"') {
        Result<size_t> n = lex_string(rest);
        if (!n.ok()) return n.error();
        pos += *n;
      } else {
        static constexpr std::string_view kTwoChar[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (std::string_view two : kTwoChar) {
          if (rest.substr(0, 2) == two) op = std::string(two);
        }
        if (op.empty()) {
          static constexpr std::string_view kOneChar = "+-*/%~<>=()[]{},.:|";
          if (kOneChar.find(c) == std::string_view::npos) {
            return error_at(str("unexpected character '", c, "' in ", is_block ? "block tag" : "expression"));
          }
          op = std::string(1, c);
        }
        if (op == "(" || op == "[" || op == "{") ++bracket_depth;
        if ((op == ")" || op == "]" || op == "}") && bracket_depth > 0) --bracket_depth;
        tokens_.push_back(Token{TokenKind::kOperator, op, 0, 0, line_});
        pos += op.size();
      }
      if (tokens_.size() > options_.max_tokens) {
        return error_at(str("template has more than ", options_.max_tokens, " tokens (limit)"));
      }
    }
  }

  Result<size_t> lex_number(std::string_view rest) {
    size_t n = 0;
    std::string digits;
    auto take_digits = [&] {
      while (n < rest.size() && (is_digit(rest[n]) || (rest[n] == '_' && n + 1 < rest.size() && is_digit(rest[n + 1])))) {
        if (rest[n] != '_') digits += rest[n];
        ++n;
      }
    };
    take_digits();
    bool is_float = false;
    if (n + 1 < rest.size() && rest[n] == '.' && is_digit(rest[n + 1])) {
      is_float = true;
      digits += '.';
      ++n;
      take_digits();
    }
    if (n < rest.size() && (rest[n] == 'e' || rest[n] == 'E')) {
      size_t save = n;
      std::string save_digits = digits;
      digits += 'e';
      ++n;
      if (n < rest.size() && (rest[n] == '+' || rest[n] == '-')) digits += rest[n++];
      if (n < rest.size() && is_digit(rest[n])) {
        is_float = true;
        take_digits();
      } else {
        n = save;
        digits = save_digits;
      }
    }
    Token token{is_float ? TokenKind::kFloat : TokenKind::kInteger, digits, 0, 0, line_};
    if (is_float) {
      token.number = std::strtod(digits.c_str(), nullptr);
    } else {
      errno = 0;
      token.integer = std::strtoll(digits.c_str(), nullptr, 10);
      if (errno == ERANGE) return error_at(str("integer literal ", digits, " does not fit in 64 bits"));
    }
    tokens_.push_back(std::move(token));
    return n;
  }

  // Python-style escapes, as Jinja decodes string literals ("unicode-escape").
  Result<size_t> lex_string(std::string_view rest) {
    char quote = rest[0];
    std::string out;
    size_t n = 1;
    while (true) {
      if (n >= rest.size()) return error_at("unterminated string literal");
      char c = rest[n];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++n;
        continue;
      }
      if (n + 1 >= rest.size()) return error_at("unterminated string literal");
      char e = rest[n + 1];
      n += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case 'a': out += '\a'; break;
        case '0': out += '\0'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '\n': break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          size_t width = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          if (n + width > rest.size()) return error_at(str("truncated \\", e, " escape in string literal"));
          uint32_t code_point = 0;
          for (size_t i = 0; i < width; ++i) {
            char h = rest[n + i];
            int digit = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
            if (digit < 0) return error_at(str("bad hex digit '", h, "' in \\", e, " escape"));
            code_point = code_point * 16 + static_cast<uint32_t>(digit);
          }
          if (code_point > 0x10FFFF) return error_at(str("escape \\", e, " names code point ", code_point, " > 0x10FFFF"));
          append_utf8(out, code_point);
          n += width;
          break;
        }
        default:  // unknown escapes stay as written
          out += '\\';
          out += e;
      }
    }
    tokens_.push_back(Token{TokenKind::kString, std::move(out), 0, 0, line_});
    return n + 1;
  }

  std::string_view src_;
  const LexOptions& options_;
  std::vector<Token> tokens_;
  int line_ = 1;
  bool raw_pending_ = false;
  char close_modifier_ = '\0';  // '-' or '+' just before the last tag's closing delimiter
};

}  // namespace

Result<std::vector<Token>> lex_template(std::string_view source, const LexOptions& options) {
  return Lexer(source, options).run();
}

}  // namespace llm::jinja
