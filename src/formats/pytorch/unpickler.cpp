// The pickle machine: reads opcodes, keeps the stack, marks and memo, and builds inert objects.
// Only the opcodes torch.save emits (protocol 2, plus the protocol 3-5 forms of the same values)
// are understood; everything else is refused by name. Every length is checked against the bytes
// that remain before anything is allocated (pytorch#185443), and every structure has a cap.
#include <bit>
#include <cstring>
#include <unordered_map>

#include "formats/pytorch/pickle_objects.h"
#include "util/check.h"
#include "util/str.h"

namespace llm {
namespace pickle {
namespace {

// Opcode bytes from CPython's Lib/pickle.py.
namespace op {
constexpr uint8_t kMark = '(';
constexpr uint8_t kStop = '.';
constexpr uint8_t kBinFloat = 'G';
constexpr uint8_t kBinInt = 'J';
constexpr uint8_t kBinInt1 = 'K';
constexpr uint8_t kBinInt2 = 'M';
constexpr uint8_t kNone = 'N';
constexpr uint8_t kBinPersId = 'Q';
constexpr uint8_t kReduce = 'R';
constexpr uint8_t kBinString = 'T';
constexpr uint8_t kShortBinString = 'U';
constexpr uint8_t kBinUnicode = 'X';
constexpr uint8_t kAppend = 'a';
constexpr uint8_t kBuild = 'b';
constexpr uint8_t kGlobal = 'c';
constexpr uint8_t kEmptyDict = '}';
constexpr uint8_t kAppends = 'e';
constexpr uint8_t kBinGet = 'h';
constexpr uint8_t kLongBinGet = 'j';
constexpr uint8_t kEmptyList = ']';
constexpr uint8_t kBinPut = 'q';
constexpr uint8_t kLongBinPut = 'r';
constexpr uint8_t kSetItem = 's';
constexpr uint8_t kTuple = 't';
constexpr uint8_t kEmptyTuple = ')';
constexpr uint8_t kSetItems = 'u';
constexpr uint8_t kProto = 0x80;
constexpr uint8_t kNewObj = 0x81;
constexpr uint8_t kTuple1 = 0x85;
constexpr uint8_t kTuple2 = 0x86;
constexpr uint8_t kTuple3 = 0x87;
constexpr uint8_t kNewTrue = 0x88;
constexpr uint8_t kNewFalse = 0x89;
constexpr uint8_t kLong1 = 0x8a;
constexpr uint8_t kBinBytes = 'B';
constexpr uint8_t kShortBinBytes = 'C';
constexpr uint8_t kShortBinUnicode = 0x8c;
constexpr uint8_t kBinUnicode8 = 0x8d;
constexpr uint8_t kBinBytes8 = 0x8e;
constexpr uint8_t kEmptySet = 0x8f;
constexpr uint8_t kStackGlobal = 0x93;
constexpr uint8_t kMemoize = 0x94;
constexpr uint8_t kFrame = 0x95;
}  // namespace op

// Names of the opcodes we refuse, so the error says what the file tried to do.
std::string_view refused_opcode_name(uint8_t byte) {
  switch (byte) {
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'P': return "PERSID";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'd': return "DICT";
    case 'g': return "GET";
    case 'i': return "INST";
    case 'l': return "LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x8b: return "LONG4";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return {};
  }
}

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), as Python decodes.
bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code = lead & 0x07;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    const uint32_t minimum = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

class Machine {
 public:
  Machine(std::span<const std::byte> program, std::string_view subject, const PickleLimits& limits)
      : program_(program), subject_(subject), limits_(limits) {
    LLM_CHECK(limits.max_objects <= UINT32_MAX, "max_objects ", limits.max_objects, " does not fit an ObjectId");
  }

  Result<std::vector<PickledTensor>> run();

 private:
  // "<subject> offset N: <parts>"; N is the offset of the opcode being executed.
  template <class... Parts>
  Error fail(ErrorCode code, const Parts&... parts) const {
    return make_error(code, str(subject_, " offset ", opcode_offset_, ": ", parts...));
  }

  uint64_t remaining() const { return program_.size() - cursor_; }
  Status read(uint64_t length, std::string_view what, std::span<const std::byte>* out);
  Status read_uint(int bytes, std::string_view what, uint64_t* out);
  Status read_line(std::string_view what, std::string* out);

  Status step(uint8_t opcode, bool* stopped);
  Status push(Object object);
  Status push_id(ObjectId id);
  Status pop(std::string_view what, ObjectId* out);
  Status top(std::string_view what, ObjectId* out) const;
  Status pop_mark(std::string_view what, std::vector<ObjectId>* out);
  Status push_string(uint64_t length_bytes, ObjectKind kind, std::string_view what, bool is_signed = false);
  Status push_global(std::string_view module, std::string_view name);
  Status call(bool is_newobj);
  Status build();
  Status add_items(std::string_view what, ObjectId container, const std::vector<ObjectId>& items, bool to_dict);
  Status memo_put(uint64_t index);
  Status memo_get(uint64_t index);

  std::span<const std::byte> program_;
  std::string_view subject_;
  const PickleLimits& limits_;
  uint64_t cursor_ = 0;
  uint64_t opcode_offset_ = 0;
  std::string_view opcode_name_;
  std::vector<Object> objects_;
  std::vector<ObjectId> stack_;
  std::vector<size_t> marks_;  // stack sizes at each MARK; values below the last mark are out of reach
  std::unordered_map<uint64_t, ObjectId> memo_;
  ObjectId result_ = 0;
};

Status Machine::read(uint64_t length, std::string_view what, std::span<const std::byte>* out) {
  if (length > remaining()) {
    return fail(ErrorCode::kInvalidFormat, "truncated: ", what, " declares ", length, " bytes, only ", remaining(),
                " remain");
  }
  *out = program_.subspan(cursor_, length);
  cursor_ += length;
  return {};
}

Status Machine::read_uint(int bytes, std::string_view what, uint64_t* out) {
  std::span<const std::byte> raw;
  Status status = read(bytes, what, &raw);
  if (!status) return status;
  *out = 0;
  for (int i = bytes; i-- > 0;) *out = (*out << 8) | std::to_integer<uint64_t>(raw[i]);
  return {};
}

Status Machine::read_line(std::string_view what, std::string* out) {
  const uint64_t limit = std::min<uint64_t>(remaining(), limits_.max_global_name_bytes + 1);
  for (uint64_t i = 0; i < limit; ++i) {
    if (program_[cursor_ + i] == std::byte{'\n'}) {
      out->assign(reinterpret_cast<const char*>(program_.data() + cursor_), i);
      cursor_ += i + 1;
      return {};
    }
  }
  return fail(ErrorCode::kInvalidFormat, what, " is not a newline-terminated name of at most ",
              limits_.max_global_name_bytes, " bytes");
}

Status Machine::push(Object object) {
  if (objects_.size() >= limits_.max_objects) {
    return fail(ErrorCode::kInvalidFormat, "more than ", limits_.max_objects, " objects");
  }
  objects_.push_back(std::move(object));
  return push_id(static_cast<ObjectId>(objects_.size() - 1));
}

Status Machine::push_id(ObjectId id) {
  if (stack_.size() >= limits_.max_stack_depth) {
    return fail(ErrorCode::kInvalidFormat, "stack deeper than ", limits_.max_stack_depth);
  }
  stack_.push_back(id);
  return {};
}

Status Machine::top(std::string_view what, ObjectId* out) const {
  const size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor) {
    return fail(ErrorCode::kInvalidFormat, "stack underflow: ", opcode_name_, " needs ", what,
                " but the stack is empty", marks_.empty() ? "" : " above the last MARK");
  }
  *out = stack_.back();
  return {};
}

Status Machine::pop(std::string_view what, ObjectId* out) {
  Status status = top(what, out);
  if (status) stack_.pop_back();
  return status;
}

Status Machine::pop_mark(std::string_view what, std::vector<ObjectId>* out) {
  if (marks_.empty()) return fail(ErrorCode::kInvalidFormat, opcode_name_, " needs a MARK for ", what, "; there is none");
  const size_t mark = marks_.back();
  marks_.pop_back();
  out->assign(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
  stack_.resize(mark);
  if (out->size() > limits_.max_container_items) {
    return fail(ErrorCode::kInvalidFormat, what, " has ", out->size(), " items; the limit is ",
                limits_.max_container_items);
  }
  return {};
}

Status Machine::push_string(uint64_t length_bytes, ObjectKind kind, std::string_view what, bool is_signed) {
  uint64_t length = 0;
  Status status = read_uint(static_cast<int>(length_bytes), what, &length);
  if (!status) return status;
  if (is_signed && (length >> 31) != 0) return fail(ErrorCode::kInvalidFormat, what, " has a negative length");
  std::span<const std::byte> raw;
  status = read(length, what, &raw);  // checks length <= remaining before allocating
  if (!status) return status;
  Object object;
  object.kind = kind;
  object.text.assign(reinterpret_cast<const char*>(raw.data()), raw.size());
  if (kind == ObjectKind::kString && !is_valid_utf8(object.text)) {
    return fail(ErrorCode::kInvalidFormat, what, " is not valid UTF-8: '", printable(object.text), "'");
  }
  return push(std::move(object));
}

Status Machine::push_global(std::string_view module, std::string_view name) {
  Object global;
  if (!resolve_global(module, name, &global)) {
    return fail(ErrorCode::kInvalidFormat, "refused global '", printable(module), ".", printable(name),
                "' (not on the allowlist; nothing was executed)");
  }
  return push(std::move(global));
}

Status Machine::call(bool is_newobj) {
  ObjectId args = 0;
  ObjectId callable = 0;
  Status status = pop("an argument tuple", &args);
  if (status) status = pop("a callable", &callable);
  if (!status) return status;
  CallOutcome outcome = call_global(objects_, objects_[callable], objects_[args], is_newobj);
  if (!outcome.ok) return fail(outcome.code, outcome.reason);
  return push(std::move(outcome.result));
}

// BUILD sets an object's state. torch.save emits it only for an OrderedDict with attributes
// (state_dict()._metadata), which we do not need, so the state is checked and dropped.
Status Machine::build() {
  ObjectId state = 0;
  ObjectId target = 0;
  Status status = pop("a state", &state);
  if (status) status = top("an object to build", &target);
  if (!status) return status;
  const Object& object = objects_[target];
  const ObjectKind state_kind = objects_[state].kind;
  const bool state_ok = state_kind == ObjectKind::kNone || state_kind == ObjectKind::kDict;
  const bool target_ok = (object.kind == ObjectKind::kDict && object.ordered) ||
                         (object.kind == ObjectKind::kTensor && state_kind == ObjectKind::kNone);
  if (!target_ok || !state_ok) {
    return fail(ErrorCode::kInvalidFormat, "refused BUILD on a ", object_kind_name(object.kind), " with a ",
                object_kind_name(state_kind), " state (allowed only on an OrderedDict)");
  }
  return {};
}

Status Machine::add_items(std::string_view what, ObjectId container, const std::vector<ObjectId>& items, bool to_dict) {
  Object& target = objects_[container];
  const ObjectKind expected = to_dict ? ObjectKind::kDict : ObjectKind::kList;
  if (target.kind != expected) {
    return fail(ErrorCode::kInvalidFormat, "refused ", opcode_name_, " on a ", object_kind_name(target.kind),
                " (allowed only on a ", object_kind_name(expected), ")");
  }
  if (to_dict && items.size() % 2 != 0) {
    return fail(ErrorCode::kInvalidFormat, opcode_name_, " with an odd number (", items.size(), ") of keys and values");
  }
  if (items.size() > limits_.max_container_items - std::min(target.items.size(), limits_.max_container_items)) {
    return fail(ErrorCode::kInvalidFormat, what, " would exceed ", limits_.max_container_items, " items");
  }
  target.items.insert(target.items.end(), items.begin(), items.end());
  return {};
}

Status Machine::memo_put(uint64_t index) {
  ObjectId value = 0;
  Status status = top("a value to memoize", &value);
  if (!status) return status;
  auto it = memo_.find(index);
  if (it != memo_.end()) {
    it->second = value;
    return {};
  }
  if (memo_.size() >= limits_.max_memo_entries) {
    return fail(ErrorCode::kInvalidFormat, "memo holds more than ", limits_.max_memo_entries, " entries");
  }
  memo_.emplace(index, value);
  return {};
}

Status Machine::memo_get(uint64_t index) {
  auto it = memo_.find(index);
  if (it == memo_.end()) {
    return fail(ErrorCode::kInvalidFormat, opcode_name_, " of memo index ", index, ", which was never stored (memo holds ",
                memo_.size(), " entries)");
  }
  return push_id(it->second);
}

Result<std::vector<PickledTensor>> Machine::run() {
  bool stopped = false;
  while (!stopped) {
    if (remaining() == 0) {
      opcode_offset_ = cursor_;
      return fail(ErrorCode::kInvalidFormat, "truncated: the program ends without a STOP opcode");
    }
    opcode_offset_ = cursor_;
    const auto opcode = std::to_integer<uint8_t>(program_[cursor_++]);
    Status status = step(opcode, &stopped);
    if (!status) return status.error();
  }
  return extract_state_dict(objects_, result_, subject_);
}

Status Machine::step(uint8_t opcode, bool* stopped) {
  uint64_t value = 0;
  Status status;
  switch (opcode) {
    case op::kProto:
      opcode_name_ = "PROTO";
      status = read_uint(1, "PROTO", &value);
      if (status && (value < 2 || value > 5)) {
        return fail(ErrorCode::kUnsupported, "pickle protocol ", value, " is not supported (expected 2 to 5)");
      }
      return status;
    case op::kFrame:
      // A frame is only a buffering hint; its length must still fit in the program.
      opcode_name_ = "FRAME";
      status = read_uint(8, "FRAME", &value);
      if (status && value > remaining()) {
        return fail(ErrorCode::kInvalidFormat, "truncated: FRAME declares ", value, " bytes, only ", remaining(),
                    " remain");
      }
      return status;
    case op::kStop:
      opcode_name_ = "STOP";
      status = pop("the result", &result_);
      *stopped = status.ok();
      return status;
    case op::kMark:
      opcode_name_ = "MARK";
      if (marks_.size() >= limits_.max_stack_depth) {
        return fail(ErrorCode::kInvalidFormat, "more than ", limits_.max_stack_depth, " open MARKs");
      }
      marks_.push_back(stack_.size());
      return {};
    case op::kGlobal: {
      opcode_name_ = "GLOBAL";
      std::string module;
      std::string name;
      status = read_line("GLOBAL module", &module);
      if (status) status = read_line("GLOBAL name", &name);
      if (!status) return status;
      return push_global(module, name);
    }
    case op::kStackGlobal: {
      opcode_name_ = "STACK_GLOBAL";
      ObjectId name = 0;
      ObjectId module = 0;
      status = pop("a name", &name);
      if (status) status = pop("a module", &module);
      if (!status) return status;
      if (objects_[name].kind != ObjectKind::kString || objects_[module].kind != ObjectKind::kString) {
        return fail(ErrorCode::kInvalidFormat, "refused STACK_GLOBAL from a ", object_kind_name(objects_[module].kind),
                    " and a ", object_kind_name(objects_[name].kind), " (expected two constant strings)");
      }
      // Copies: push_global appends to objects_, which may move the strings.
      const std::string module_text = objects_[module].text;
      const std::string name_text = objects_[name].text;
      return push_global(module_text, name_text);
    }
    case op::kReduce:
      opcode_name_ = "REDUCE";
      return call(false);
    case op::kNewObj:
      opcode_name_ = "NEWOBJ";
      return call(true);
    case op::kBuild:
      opcode_name_ = "BUILD";
      return build();
    case op::kBinPersId: {
      opcode_name_ = "BINPERSID";
      ObjectId pid = 0;
      status = pop("a persistent id", &pid);
      if (!status) return status;
      CallOutcome outcome = persistent_load(objects_, objects_[pid]);
      if (!outcome.ok) return fail(outcome.code, outcome.reason);
      return push(std::move(outcome.result));
    }
    case op::kAppend:
    case op::kSetItem: {
      const bool to_dict = opcode == op::kSetItem;
      opcode_name_ = to_dict ? "SETITEM" : "APPEND";
      std::vector<ObjectId> items(to_dict ? 2 : 1);
      for (size_t i = items.size(); i-- > 0;) {
        status = pop(to_dict ? "a key and a value" : "a value", &items[i]);
        if (!status) return status;
      }
      ObjectId container = 0;
      status = top(to_dict ? "a dict" : "a list", &container);
      if (!status) return status;
      return add_items(opcode_name_, container, items, to_dict);
    }
    case op::kAppends:
    case op::kSetItems: {
      const bool to_dict = opcode == op::kSetItems;
      opcode_name_ = to_dict ? "SETITEMS" : "APPENDS";
      std::vector<ObjectId> items;
      status = pop_mark("its items", &items);
      if (!status) return status;
      ObjectId container = 0;
      status = top(to_dict ? "a dict below the MARK" : "a list below the MARK", &container);
      if (!status) return status;
      return add_items(opcode_name_, container, items, to_dict);
    }
    case op::kTuple:
    case op::kTuple1:
    case op::kTuple2:
    case op::kTuple3: {
      opcode_name_ = opcode == op::kTuple ? "TUPLE" : opcode == op::kTuple1 ? "TUPLE1" : opcode == op::kTuple2 ? "TUPLE2" : "TUPLE3";
      Object tuple;
      tuple.kind = ObjectKind::kTuple;
      if (opcode == op::kTuple) {
        status = pop_mark("the tuple", &tuple.items);
      } else {
        tuple.items.resize(opcode - op::kTuple1 + 1);
        for (size_t i = tuple.items.size(); status && i-- > 0;) status = pop("tuple items", &tuple.items[i]);
      }
      if (!status) return status;
      return push(std::move(tuple));
    }
    case op::kEmptyTuple:
    case op::kEmptyList:
    case op::kEmptyDict:
    case op::kEmptySet: {
      opcode_name_ = "EMPTY_CONTAINER";
      Object empty;
      empty.kind = opcode == op::kEmptyTuple  ? ObjectKind::kTuple
                   : opcode == op::kEmptyList ? ObjectKind::kList
                   : opcode == op::kEmptyDict ? ObjectKind::kDict
                                              : ObjectKind::kSet;
      return push(std::move(empty));
    }
    case op::kNone: {
      opcode_name_ = "NONE";
      return push(Object{});
    }
    case op::kNewTrue:
    case op::kNewFalse: {
      opcode_name_ = "NEWBOOL";
      Object boolean;
      boolean.kind = ObjectKind::kBool;
      boolean.integer = opcode == op::kNewTrue ? 1 : 0;
      return push(std::move(boolean));
    }
    case op::kBinInt:
    case op::kBinInt1:
    case op::kBinInt2: {
      opcode_name_ = opcode == op::kBinInt ? "BININT" : opcode == op::kBinInt1 ? "BININT1" : "BININT2";
      const int bytes = opcode == op::kBinInt ? 4 : opcode == op::kBinInt1 ? 1 : 2;
      status = read_uint(bytes, opcode_name_, &value);
      if (!status) return status;
      Object integer;
      integer.kind = ObjectKind::kInt;
      // BININT is a signed 32-bit value; BININT1/2 are unsigned.
      integer.integer = bytes == 4 ? static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(value)))
                                   : static_cast<int64_t>(value);
      return push(std::move(integer));
    }
    case op::kLong1: {
      opcode_name_ = "LONG1";
      uint64_t length = 0;
      status = read_uint(1, "LONG1 length", &length);
      if (!status) return status;
      if (length > 8) return fail(ErrorCode::kUnsupported, "LONG1 integer of ", length, " bytes exceeds 64 bits");
      status = read_uint(static_cast<int>(length), "LONG1", &value);
      if (!status) return status;
      Object integer;
      integer.kind = ObjectKind::kInt;
      // Two's complement little-endian of `length` bytes: sign-extend from the top byte.
      if (length > 0 && length < 8 && (value >> (length * 8 - 1)) != 0) value |= ~uint64_t{0} << (length * 8);
      integer.integer = static_cast<int64_t>(value);
      return push(std::move(integer));
    }
    case op::kBinFloat: {
      opcode_name_ = "BINFLOAT";
      std::span<const std::byte> raw;
      status = read(8, "BINFLOAT", &raw);
      if (!status) return status;
      uint64_t bits = 0;
      for (std::byte b : raw) bits = (bits << 8) | std::to_integer<uint64_t>(b);  // big-endian
      Object real;
      real.kind = ObjectKind::kFloat;
      real.real = std::bit_cast<double>(bits);
      return push(std::move(real));
    }
    case op::kBinUnicode: opcode_name_ = "BINUNICODE"; return push_string(4, ObjectKind::kString, "BINUNICODE");
    case op::kShortBinUnicode: opcode_name_ = "SHORT_BINUNICODE"; return push_string(1, ObjectKind::kString, "SHORT_BINUNICODE");
    case op::kBinUnicode8: opcode_name_ = "BINUNICODE8"; return push_string(8, ObjectKind::kString, "BINUNICODE8");
    case op::kBinString: opcode_name_ = "BINSTRING"; return push_string(4, ObjectKind::kString, "BINSTRING", true);
    case op::kShortBinString: opcode_name_ = "SHORT_BINSTRING"; return push_string(1, ObjectKind::kString, "SHORT_BINSTRING");
    case op::kBinBytes: opcode_name_ = "BINBYTES"; return push_string(4, ObjectKind::kBytes, "BINBYTES");
    case op::kShortBinBytes: opcode_name_ = "SHORT_BINBYTES"; return push_string(1, ObjectKind::kBytes, "SHORT_BINBYTES");
    case op::kBinBytes8: opcode_name_ = "BINBYTES8"; return push_string(8, ObjectKind::kBytes, "BINBYTES8");
    case op::kBinPut:
    case op::kLongBinPut:
      opcode_name_ = opcode == op::kBinPut ? "BINPUT" : "LONG_BINPUT";
      status = read_uint(opcode == op::kBinPut ? 1 : 4, opcode_name_, &value);
      return status ? memo_put(value) : status;
    case op::kMemoize:
      opcode_name_ = "MEMOIZE";
      return memo_put(memo_.size());
    case op::kBinGet:
    case op::kLongBinGet:
      opcode_name_ = opcode == op::kBinGet ? "BINGET" : "LONG_BINGET";
      status = read_uint(opcode == op::kBinGet ? 1 : 4, opcode_name_, &value);
      return status ? memo_get(value) : status;
    default:
      break;
  }
  std::string_view name = refused_opcode_name(opcode);
  if (!name.empty()) {
    return fail(ErrorCode::kInvalidFormat, "refused opcode ", name, " (0x", std::hex, static_cast<int>(opcode), std::dec,
                "): not on the allowlist; nothing was executed");
  }
  return fail(ErrorCode::kInvalidFormat, "unknown opcode 0x", std::hex, static_cast<int>(opcode), std::dec);
}

}  // namespace
}  // namespace pickle

Result<std::vector<PickledTensor>> parse_pickle(std::span<const std::byte> program, std::string_view subject,
                                                const PickleLimits& limits) {
  pickle::Machine machine(program, subject, limits);
  return machine.run();
}

}  // namespace llm
