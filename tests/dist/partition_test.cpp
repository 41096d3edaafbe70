// split_range: contiguous, covering, balanced, in whole units.
#include <gtest/gtest.h>

#include "dist/partition.h"

namespace llm {
namespace {

TEST(SplitRange, EvenAndUneven) {
  EXPECT_EQ(split_range(8, 2, 0), (Range{0, 4}));
  EXPECT_EQ(split_range(8, 2, 1), (Range{4, 8}));
  EXPECT_EQ(split_range(10, 3, 0), (Range{0, 4}));
  EXPECT_EQ(split_range(10, 3, 1), (Range{4, 7}));
  EXPECT_EQ(split_range(10, 3, 2), (Range{7, 10}));
  EXPECT_EQ(split_range(2, 4, 3), (Range{2, 2}));  // more parts than items: empty tail parts
}

TEST(SplitRange, WholeUnits) {
  // 5 blocks of 32 over 2 parts: 3 blocks and 2 blocks.
  EXPECT_EQ(split_range(160, 2, 0, 32), (Range{0, 96}));
  EXPECT_EQ(split_range(160, 2, 1, 32), (Range{96, 160}));
}

TEST(SplitRange, TilesTheWhole) {
  for (int64_t n : {0, 1, 7, 259, 4096}) {
    for (int64_t parts = 1; parts <= 9; ++parts) {
      int64_t next = 0, smallest = n, largest = 0;
      for (int64_t i = 0; i < parts; ++i) {
        Range r = split_range(n, parts, i);
        EXPECT_EQ(r.begin, next);
        next = r.end;
        smallest = std::min(smallest, r.size());
        largest = std::max(largest, r.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1);
    }
  }
}

}  // namespace
}  // namespace llm
