#include <gtest/gtest.h>

#include "tokenizer/jinja/jinja.h"
#include "tokenizer/jinja/value.h"

namespace llm::jinja {
namespace {

// Expected strings are CPython's repr(float) (python3 -c 'print(repr(x))').
TEST(PythonFloatRepr, MatchesCPython) {
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float_repr(1e-5), "1e-05");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(-2.5), "-2.5");
  EXPECT_EQ(python_float_repr(1.5e300), "1.5e+300");
  EXPECT_EQ(python_float_repr(123456789.125), "123456789.125");
}

// Expected strings are CPython's datetime(2024, 2, 29, 23, 59, 1).strftime(...).
TEST(FormatDate, MatchesPythonStrftime) {
  DateTime d{2024, 2, 29, 23, 59, 1};
  EXPECT_EQ(format_date(d, "%d %b %Y"), "29 Feb 2024");
  EXPECT_EQ(format_date(d, "%A %a %B %j %I %p %H:%M:%S %y %m %%"), "Thursday Thu February 060 11 PM 23:59:01 24 02 %");
}

}  // namespace
}  // namespace llm::jinja
