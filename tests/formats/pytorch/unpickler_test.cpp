// The restricted unpickler against hand-assembled pickle programs (opcode bytes from CPython's
// Lib/pickle.py): what torch.save emits must parse; refusals and structural attacks of
// reliability.md section 5 items 11-12 must fail with the named opcode or global.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "formats/pytorch/pickle.h"
#include "formats/pytorch/pth_builder.h"

using namespace std::string_literals;

namespace llm {
namespace {

using testing::as_bytes;
using testing::le;
using testing::PickleWriter;

Result<std::vector<PickledTensor>> parse(const std::string& program, const PickleLimits& limits = {}) {
  return parse_pickle(as_bytes(program), "test.pth: data.pkl", limits);
}

// Expects an error with `code` whose message contains `needle`.
void expect_error(const Result<std::vector<PickledTensor>>& result, ErrorCode code, const std::string& needle) {
  ASSERT_FALSE(result.ok()) << "expected an error containing: " << needle;
  EXPECT_EQ(result.error().code, code) << result.error().message;
  EXPECT_NE(result.error().message.find(needle), std::string::npos)
      << "message: " << result.error().message << "\nexpected to contain: " << needle;
}

// What `torch.save({"w": torch.zeros(2, 3)}, f)` writes as data.pkl (protocol 2), byte for byte as
// pickle.py's Pickler composes it: a memo put after each memoizable value, SETITEM for a one-item
// dict, the persistent id tuple followed by BINPERSID, then REDUCE of _rebuild_tensor_v2.
std::string torch_style_one_tensor() {
  static const char kBytes[] =  // contains NUL bytes: sized explicitly below
      "\x80\x02}q\x00X\x01\x00\x00\x00" "wq\x01"
      "ctorch._utils\n_rebuild_tensor_v2\nq\x02"
      "((X\x07\x00\x00\x00" "storageq\x03"
      "ctorch\nFloatStorage\nq\x04"
      "X\x01\x00\x00\x00" "0q\x05"
      "X\x03\x00\x00\x00" "cpuq\x06"
      "K\x06tq\x07Q"
      "K\x00"
      "K\x02K\x03\x86q\x08"
      "K\x03K\x01\x86q\x09"
      "\x89"
      "ccollections\nOrderedDict\nq\x0a" ")Rq\x0b"
      "tq\x0cRq\x0d"
      "s.";
  return std::string(kBytes, sizeof(kBytes) - 1);
}

TEST(Unpickler, ParsesTorchSaveProtocol2Bytes) {
  auto result = parse(torch_style_one_tensor());
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->size(), 1u);
  const PickledTensor& w = (*result)[0];
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.storage_key, "0");
  EXPECT_EQ(w.storage_dtype, StorageDType::kFloat);
  EXPECT_EQ(w.storage_numel, 6u);
  EXPECT_EQ(w.storage_offset, 0u);
  EXPECT_EQ(w.size, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w.stride, (std::vector<int64_t>{3, 1}));
}

TEST(Unpickler, ParsesOrderedDictWithMetadataBuild) {
  // model.state_dict() is an OrderedDict with a _metadata attribute: REDUCE, SETITEMS, then BUILD
  // with {'_metadata': OrderedDict({'': {'version': 1}})}.
  PickleWriter q;
  q.proto(2).global("collections", "OrderedDict").put(0).empty_tuple().reduce().put(1);
  q.mark().unicode("a.weight").tensor("BFloat16Storage", "0", 4, 0, {4}, {1});
  q.unicode("b.weight").tensor("HalfStorage", "1", 6, 0, {3, 2}, {2, 1}).setitems();
  q.empty_dict().unicode("_metadata").get(0).empty_tuple().reduce();
  q.unicode("").empty_dict().unicode("version").int1(1).raw("s").raw("s").raw("s");
  q.raw("b").stop();
  auto result = parse(q.bytes());
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->size(), 2u);
  EXPECT_EQ((*result)[0].name, "a.weight");
  EXPECT_EQ((*result)[0].storage_dtype, StorageDType::kBFloat16);
  EXPECT_EQ((*result)[1].name, "b.weight");
  EXPECT_EQ((*result)[1].storage_dtype, StorageDType::kHalf);
  EXPECT_EQ((*result)[1].size, (std::vector<int64_t>{3, 2}));
}

TEST(Unpickler, ParsesProtocol4Forms) {
  // FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL and LONG1 (numel 2^33).
  std::string program = "\x80\x04\x95" + le(0, 8) + "}\x94(\x8c\x01w\x94";
  program += "\x8c\x0ctorch._utils\x8c\x12_rebuild_tensor_v2\x93\x94";
  program += "((\x8c\x07storage\x8c\x05torch\x8c\x0f" "BFloat16Storage\x93\x8c\x01" "0\x8c\x03" "cpu";
  program += "\x8a\x05" + le(uint64_t{1} << 33, 5) + "tQ";
  program += std::string("K\x00", 2) + "K\x01\x85K\x01\x85\x89}tR" + "u.";
  auto result = parse(program);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ((*result)[0].storage_numel, uint64_t{1} << 33);
  EXPECT_EQ((*result)[0].storage_dtype, StorageDType::kBFloat16);
}

TEST(Unpickler, AcceptsOneLevelOfModelNesting) {
  PickleWriter p;
  p.proto(2).empty_dict().mark().unicode("epoch").int1(3).unicode("model").empty_dict().mark();
  p.unicode("w").tensor("FloatStorage", "0", 2, 0, {2}, {1}).setitems().setitems().stop();
  auto result = parse(p.bytes());
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ((*result)[0].name, "w");
}

// --- refusals (reliability.md section 5, item 11) ---

TEST(Unpickler, RefusesOsSystemAndExecutesNothing) {
  const std::filesystem::path canary = std::filesystem::temp_directory_path() / "llm_pickle_canary_os_system";
  std::filesystem::remove(canary);
  // The classic payload: os.system('touch <canary>').
  PickleWriter p;
  p.proto(2).global("os", "system").mark().unicode("touch " + canary.string()).tuple().reduce().stop();
  auto result = parse(p.bytes());
  expect_error(result, ErrorCode::kInvalidFormat,
               "test.pth: data.pkl offset 2: refused global 'os.system' (not on the allowlist; nothing was executed)");
  EXPECT_FALSE(std::filesystem::exists(canary));
}

TEST(Unpickler, RefusesDangerousGlobals) {
  for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
           {"builtins", "eval"}, {"builtins", "exec"}, {"builtins", "getattr"}, {"builtins", "__import__"},
           {"subprocess", "Popen"}, {"posix", "system"}, {"nt", "system"}, {"functools", "partial"},
           {"torch", "load"}, {"torch.jit", "load"}, {"numpy.core.multiarray", "_reconstruct"},
           {"__builtin__", "apply"}, {"torch._tensor", "_rebuild_from_type_v2"}}) {
    PickleWriter p;
    p.proto(2).global(module, name).mark().unicode("id").tuple().reduce().stop();
    expect_error(parse(p.bytes()), ErrorCode::kInvalidFormat,
                 "refused global '" + module + "." + name + "' (not on the allowlist");
  }
}

TEST(Unpickler, RefusesStackGlobalOfForbiddenName) {
  std::string program = "\x80\x04\x8c\x02os\x8c\x06system\x93(\x8c\x02idtR.";
  expect_error(parse(program), ErrorCode::kInvalidFormat, "offset 14: refused global 'os.system'");
}

TEST(Unpickler, RefusesStackGlobalOfNonStrings) {
  std::string program = "\x80\x04K\x01K\x02\x93.";
  expect_error(parse(program), ErrorCode::kInvalidFormat, "refused STACK_GLOBAL from a int and a int");
}

TEST(Unpickler, RefusesReduceOnNonCallables) {
  PickleWriter storage_type;
  storage_type.proto(2).global("torch", "FloatStorage").mark().int1(4).tuple().reduce().stop();
  expect_error(parse(storage_type.bytes()), ErrorCode::kInvalidFormat,
               "refused REDUCE of 'torch.FloatStorage' (not callable here; nothing was executed)");
  PickleWriter string_callable;
  string_callable.proto(2).unicode("os.system").empty_tuple().reduce().stop();
  expect_error(parse(string_callable.bytes()), ErrorCode::kInvalidFormat, "refused REDUCE on a str");
  PickleWriter newobj_tensor;
  newobj_tensor.proto(2).global("torch._utils", "_rebuild_tensor_v2").empty_tuple().raw("\x81").stop();
  expect_error(parse(newobj_tensor.bytes()), ErrorCode::kInvalidFormat,
               "refused NEWOBJ of 'torch._utils._rebuild_tensor_v2'");
}

TEST(Unpickler, RefusesInstObjAndOtherOpcodes) {
  expect_error(parse("\x80\x02(ios\nsystem\nX\x02\x00\x00\x00idb."s), ErrorCode::kInvalidFormat,
               "offset 3: refused opcode INST (0x69)");
  expect_error(parse("\x80\x02(No."s), ErrorCode::kInvalidFormat, "offset 4: refused opcode OBJ (0x6f)");
  expect_error(parse("\x80\x02\x82\x01."s), ErrorCode::kInvalidFormat, "refused opcode EXT1 (0x82)");
  expect_error(parse("\x80\x02P0\n."s), ErrorCode::kInvalidFormat, "refused opcode PERSID (0x50)");
  expect_error(parse("\x80\x02g0\n."s), ErrorCode::kInvalidFormat, "refused opcode GET (0x67)");
  expect_error(parse("\x80\x02\xff"s), ErrorCode::kInvalidFormat, "offset 2: unknown opcode 0xff");
  expect_error(parse("\x80\x06}."s), ErrorCode::kUnsupported, "pickle protocol 6 is not supported");
}

// --- structural attacks (item 12) ---

TEST(Unpickler, RefusesSetItemOnList) {
  PickleWriter p;
  p.proto(2).empty_list().unicode("k").unicode("v").raw("s").stop();
  expect_error(parse(p.bytes()), ErrorCode::kInvalidFormat, "refused SETITEM on a list (allowed only on a dict)");
  PickleWriter q;
  q.proto(2).empty_tuple().mark().unicode("k").unicode("v").setitems().stop();
  expect_error(parse(q.bytes()), ErrorCode::kInvalidFormat, "refused SETITEMS on a tuple");
}

TEST(Unpickler, RefusesAppendOnDictAndBuildOnPlainObjects) {
  PickleWriter append;
  append.proto(2).empty_dict().int1(1).raw("a").stop();
  expect_error(parse(append.bytes()), ErrorCode::kInvalidFormat, "refused APPEND on a dict (allowed only on a list)");
  PickleWriter build;
  build.proto(2).empty_dict().empty_dict().raw("b").stop();
  expect_error(parse(build.bytes()), ErrorCode::kInvalidFormat, "refused BUILD on a dict");
}

TEST(Unpickler, RefusesMissingMemoIndex) {
  PickleWriter p;
  p.proto(2).empty_dict().put(0).get(5).stop();
  expect_error(parse(p.bytes()), ErrorCode::kInvalidFormat,
               "offset 5: BINGET of memo index 5, which was never stored (memo holds 1 entries)");
  expect_error(parse(std::string("\x80\x02j\xff\xff\xff\xff.", 8)), ErrorCode::kInvalidFormat,
               "LONG_BINGET of memo index 4294967295");
}

TEST(Unpickler, RefusesStackUnderflow) {
  expect_error(parse("\x80\x02R."s), ErrorCode::kInvalidFormat, "offset 2: stack underflow: REDUCE needs an argument tuple");
  expect_error(parse("\x80\x02."s), ErrorCode::kInvalidFormat, "stack underflow: STOP needs the result");
  // Values below a MARK are out of reach.
  expect_error(parse("\x80\x02(u."s), ErrorCode::kInvalidFormat, "stack underflow: SETITEMS needs a dict below the MARK");
  expect_error(parse("\x80\x02N(R."s), ErrorCode::kInvalidFormat,
               "REDUCE needs an argument tuple but the stack is empty above the last MARK");
  expect_error(parse("\x80\x02}t."s), ErrorCode::kInvalidFormat, "TUPLE needs a MARK for the tuple; there is none");
}

TEST(Unpickler, RefusesLengthsBeyondEnd) {
  expect_error(parse("\x80\x02X\xff\xff\xff\x7f" "abc"s), ErrorCode::kInvalidFormat,
               "offset 2: truncated: BINUNICODE declares 2147483647 bytes, only 3 remain");
  expect_error(parse("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f" "abc"s), ErrorCode::kInvalidFormat,
               "truncated: BINUNICODE8 declares 9223372036854775807 bytes, only 3 remain");
  expect_error(parse("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xff"s), ErrorCode::kInvalidFormat,
               "truncated: BINBYTES8 declares 18446744073709551615 bytes, only 0 remain");
  expect_error(parse("\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00}."s), ErrorCode::kInvalidFormat,
               "truncated: FRAME declares 4294967295 bytes, only 2 remain");
  expect_error(parse("\x80\x02J\x01"s), ErrorCode::kInvalidFormat, "truncated: BININT declares 4 bytes, only 1 remain");
  expect_error(parse("\x80\x02" "ctorch\n_rebuild"s), ErrorCode::kInvalidFormat, "GLOBAL name is not a newline-terminated");
  expect_error(parse("\x80\x02}"s), ErrorCode::kInvalidFormat, "offset 3: truncated: the program ends without a STOP");
}

TEST(Unpickler, RefusesInvalidUtf8AndHugeLongs) {
  expect_error(parse("\x80\x02X\x02\x00\x00\x00\xc0\xaf."s), ErrorCode::kInvalidFormat, "is not valid UTF-8");
  expect_error(parse("\x80\x02X\x03\x00\x00\x00\xed\xa0\x80."s), ErrorCode::kInvalidFormat, "is not valid UTF-8");
  expect_error(parse("\x80\x02\x8a\x09" "123456789."s), ErrorCode::kUnsupported, "LONG1 integer of 9 bytes exceeds 64 bits");
}

TEST(Unpickler, ValidatesRebuildTensorArguments) {
  // Size given as a list, not a tuple.
  PickleWriter list_size;
  list_size.proto(2).empty_dict().unicode("w").global("torch._utils", "_rebuild_tensor_v2").mark();
  list_size.mark().unicode("storage").global("torch", "FloatStorage").unicode("0").unicode("cpu").int1(2).tuple();
  list_size.binpersid().int1(0).empty_list().int_tuple({1}).newfalse().empty_dict().tuple().reduce().raw("s").stop();
  expect_error(parse(list_size.bytes()), ErrorCode::kInvalidFormat,
               "_rebuild_tensor_v2 argument 2 (size) is not a tuple of at most 8 ints >= 0");
  // Negative storage offset.
  PickleWriter negative;
  negative.proto(2).empty_dict().unicode("w").global("torch._utils", "_rebuild_tensor_v2").mark();
  negative.mark().unicode("storage").global("torch", "FloatStorage").unicode("0").unicode("cpu").int1(2).tuple();
  negative.binpersid().int4(-1).int_tuple({1}).int_tuple({1}).newfalse().empty_dict().tuple().reduce().raw("s").stop();
  expect_error(parse(negative.bytes()), ErrorCode::kInvalidFormat, "argument 1 (storage offset) is a int, expected an int >= 0");
  // Nine dims.
  PickleWriter nine;
  nine.proto(2).empty_dict().unicode("w").tensor("FloatStorage", "0", 1, 0, {1, 1, 1, 1, 1, 1, 1, 1, 1},
                                                  {1, 1, 1, 1, 1, 1, 1, 1, 1}).raw("s").stop();
  expect_error(parse(nine.bytes()), ErrorCode::kInvalidFormat, "argument 2 (size) is not a tuple of at most 8");
  // Stride rank differs from size rank.
  PickleWriter rank;
  rank.proto(2).empty_dict().unicode("w").tensor("FloatStorage", "0", 4, 0, {2, 2}, {1}).raw("s").stop();
  expect_error(parse(rank.bytes()), ErrorCode::kInvalidFormat, "argument 3 (stride) is not a tuple of 2 ints");
  // Storage argument that is not a persistent storage.
  PickleWriter fake;
  fake.proto(2).empty_dict().unicode("w").global("torch._utils", "_rebuild_tensor_v2").mark();
  fake.unicode("0").int1(0).int_tuple({1}).int_tuple({1}).newfalse().empty_dict().tuple().reduce().raw("s").stop();
  expect_error(parse(fake.bytes()), ErrorCode::kInvalidFormat, "argument 0 (storage) is a str, expected a storage");
}

TEST(Unpickler, ValidatesPersistentIds) {
  PickleWriter traversal;
  traversal.proto(2).empty_dict().unicode("w").tensor("FloatStorage", "../0", 1, 0, {1}, {1}).raw("s").stop();
  expect_error(parse(traversal.bytes()), ErrorCode::kInvalidFormat,
               "persistent id storage key '../0' is not 1 to 20 digits");
  PickleWriter not_storage;
  not_storage.proto(2).mark().unicode("module").global("torch", "FloatStorage").unicode("0").unicode("cpu").int1(1);
  not_storage.tuple().binpersid().stop();
  expect_error(parse(not_storage.bytes()), ErrorCode::kInvalidFormat, "persistent id tag is not 'storage'");
  expect_error(parse("\x80\x02X\x01\x00\x00\x00" "0Q."s), ErrorCode::kInvalidFormat, "persistent id is a str of 0 items");
}

TEST(Unpickler, RefusesNonStateDictResults) {
  expect_error(parse("\x80\x02]."s), ErrorCode::kUnsupported, "the pickled object is a list, expected a dict");
  PickleWriter p;
  p.proto(2).empty_dict().unicode("step").int1(3).raw("s").stop();
  expect_error(parse(p.bytes()), ErrorCode::kUnsupported, "state dict entry 'step' is a int, expected a tensor");
}

TEST(Unpickler, EnforcesLimits) {
  std::string deep = "\x80\x02";
  for (int i = 0; i < 100; ++i) deep += "N";
  deep += ".";
  expect_error(parse(deep, PickleLimits{.max_stack_depth = 50}), ErrorCode::kInvalidFormat, "stack deeper than 50");
  expect_error(parse(deep, PickleLimits{.max_objects = 10}), ErrorCode::kInvalidFormat, "more than 10 objects");
  std::string marks = "\x80\x02" + std::string(100, '(') + ".";
  expect_error(parse(marks, PickleLimits{.max_stack_depth = 50}), ErrorCode::kInvalidFormat, "more than 50 open MARKs");
  std::string memo = "\x80\x02N";
  for (int i = 0; i < 20; ++i) memo += "q" + std::string(1, static_cast<char>(i));
  expect_error(parse(memo, PickleLimits{.max_memo_entries = 8}), ErrorCode::kInvalidFormat, "memo holds more than 8");
  std::string list = "\x80\x02](" + std::string(40, 'N') + "e.";
  expect_error(parse(list, PickleLimits{.max_container_items = 16}), ErrorCode::kInvalidFormat,
               "its items has 40 items; the limit is 16");
}

TEST(Unpickler, SelfReferenceDoesNotLeakOrLoop) {
  // l = []; l.append(l) via the memo: harmless inert data, then rejected as not a state dict.
  expect_error(parse("\x80\x02]q\x00h\x00" "a."s), ErrorCode::kUnsupported, "the pickled object is a list");
}

}  // namespace
}  // namespace llm
