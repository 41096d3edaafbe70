// Scripted states: exact block ids at each step, and every block comes back.
#include <gtest/gtest.h>

#include "kv/block_pool.h"

namespace llm {

TEST(BlockPool, HandsOutLowestIdsFirstAndTakesThemBack) {
  BlockPool pool(3);
  EXPECT_EQ(pool.allocate(), 0);
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_EQ(pool.allocate(), 2);
  EXPECT_EQ(pool.allocate(), std::nullopt);
  pool.release(1);
  EXPECT_EQ(pool.n_free(), 1);
  EXPECT_EQ(pool.allocate(), 1);
}

TEST(BlockPool, SharedBlockIsFreedByTheLastRelease) {
  BlockPool pool(2);
  int32_t block = *pool.allocate();
  pool.retain(block);
  EXPECT_EQ(pool.ref_count(block), 2);
  pool.release(block);
  EXPECT_EQ(pool.n_free(), 1);
  pool.release(block);
  EXPECT_EQ(pool.n_free(), 2);
}

TEST(KvManager, ReservesWholeBlocksAndMapsSlots) {
  KvManager kv(/*n_blocks=*/4, /*block_size=*/4);
  SequenceBlocks a, b;
  ASSERT_TRUE(kv.reserve(a, 5));  // 2 blocks
  EXPECT_EQ(a.blocks, (std::vector<int32_t>{0, 1}));
  ASSERT_TRUE(kv.reserve(b, 4));  // 1 block
  EXPECT_EQ(b.blocks, (std::vector<int32_t>{2}));
  EXPECT_EQ(kv.slot(a, 0), 0);
  EXPECT_EQ(kv.slot(a, 4), 4);
  EXPECT_EQ(kv.slot(b, 3), 11);
  ASSERT_TRUE(kv.reserve(a, 8));  // still 2 blocks
  EXPECT_EQ(a.blocks.size(), 2u);
  EXPECT_FALSE(kv.reserve(b, 12));  // needs 2 more, only 1 free: no change
  EXPECT_EQ(b.blocks, (std::vector<int32_t>{2}));
  EXPECT_EQ(b.n_tokens, 4);
  ASSERT_TRUE(kv.reserve(b, 5));
  EXPECT_EQ(b.blocks, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(kv.slot(b, 4), 12);
  kv.release(a);
  kv.release(b);
  EXPECT_EQ(kv.pool().n_free(), 4);
}

}  // namespace llm
