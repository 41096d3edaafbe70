#include "tokenizer/jinja/jinja.h"

#include <cstdio>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"
#include "util/str.h"

namespace llm::jinja {
namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

std::string format_date(const DateTime& date, std::string_view format) {
  static const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                  "July",    "August",   "September", "October", "November", "December"};
  static const char* kDays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
  int month_index = (date.month >= 1 && date.month <= 12) ? date.month - 1 : 0;
  int64_t days = days_from_civil(date.year, date.month, date.day);
  int weekday = static_cast<int>(((days % 7) + 7 + 3) % 7);  // 1970-01-01 was a Thursday (index 3)
  int day_of_year = static_cast<int>(days - days_from_civil(date.year, 1, 1)) + 1;
  auto two = [](int v) {
    char b[16];
    std::snprintf(b, sizeof(b), "%02d", v);
    return std::string(b);
  };
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      out += format[i];
      continue;
    }
    char d = format[++i];
    switch (d) {
      case 'd': out += two(date.day); break;
      case 'e': out += (date.day < 10 ? " " : "") + std::to_string(date.day); break;
      case 'm': out += two(date.month); break;
      case 'Y': out += std::to_string(date.year); break;
      case 'y': out += two(date.year % 100); break;
      case 'B': out += kMonths[month_index]; break;
      case 'b':
      case 'h': out += std::string(kMonths[month_index]).substr(0, 3); break;
      case 'A': out += kDays[weekday]; break;
      case 'a': out += std::string(kDays[weekday]).substr(0, 3); break;
      case 'H': out += two(date.hour); break;
      case 'I': out += two(date.hour % 12 == 0 ? 12 : date.hour % 12); break;
      case 'p': out += date.hour < 12 ? "AM" : "PM"; break;
      case 'M': out += two(date.minute); break;
      case 'S': out += two(date.second); break;
      case 'j': {
        char b[16];
        std::snprintf(b, sizeof(b), "%03d", day_of_year);
        out += b;
        break;
      }
      case '%': out += '%'; break;
      default:
        out += '%';
        out += d;
    }
  }
  return out;
}

Result<Template> Template::parse(std::string_view source, const Limits& limits) {
  if (source.size() > limits.max_template_bytes) {
    return make_error(ErrorCode::kInvalidArgument, str("jinja: template of ", source.size(),
                                                       " bytes exceeds max_template_bytes = ", limits.max_template_bytes));
  }
  // As jinja2 does: newlines normalized to "\n", and one trailing newline dropped
  // (keep_trailing_newline=False).
  std::string normalized;
  normalized.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      normalized += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      normalized += source[i];
    }
  }
  if (!normalized.empty() && normalized.back() == '\n') normalized.pop_back();
  Result<std::vector<Token>> tokens = lex_template(normalized, LexOptions{});
  if (!tokens.ok()) return tokens.error();
  Result<std::vector<std::unique_ptr<Stmt>>> body = parse_tokens(*tokens, ParseOptions{.max_nesting_depth = limits.max_parse_depth});
  if (!body.ok()) return body.error();
  Template t;
  t.body_ = std::make_shared<const std::vector<std::unique_ptr<Stmt>>>(std::move(*body));
  t.limits_ = limits;
  return t;
}

Result<std::string> Template::render(const OrderedJson& context, const RenderOptions& options) const {
  Interpreter interpreter(limits_, options);
  return interpreter.run(*body_, context);
}

}  // namespace llm::jinja
