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

namespace llm {

TEST(PrefixCache, SharesFullBlocksOfACommonPrefix) {
  KvManager kv(/*n_blocks=*/8, /*block_size=*/4);
  std::vector<int32_t> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  // blocks [1-4] [5-8] [9 10]
  SequenceBlocks first;
  ASSERT_TRUE(kv.reserve(first, 10));
  EXPECT_EQ(first.blocks, (std::vector<int32_t>{0, 1, 2}));
  kv.register_full_blocks(first, a, /*n_computed=*/10);

  std::vector<int32_t> b = {1, 2, 3, 4, 5, 6, 7, 8, 42, 43, 44};  // same first two blocks
  SequenceBlocks second;
  EXPECT_EQ(kv.attach_cached_prefix(second, b, /*max_blocks=*/2), 8);
  EXPECT_EQ(second.blocks, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(kv.pool().ref_count(0), 2);
  ASSERT_TRUE(kv.reserve(second, 11));
  EXPECT_EQ(second.blocks, (std::vector<int32_t>{0, 1, 3}));

  std::vector<int32_t> c = {1, 2, 3, 9, 5, 6, 7, 8};  // differs in the first block: no match
  SequenceBlocks third;
  EXPECT_EQ(kv.attach_cached_prefix(third, c, 2), 0);
  EXPECT_TRUE(third.blocks.empty());

  kv.release(first);
  kv.release(second);
  EXPECT_EQ(kv.pool().n_free(), 8);
  EXPECT_EQ(kv.pool().n_cached_free(), 2);  // blocks 0 and 1 stay findable
}

TEST(PrefixCache, CachedBlocksSurviveReleaseUntilEvicted) {
  KvManager kv(3, 2);
  std::vector<int32_t> tokens = {7, 8, 9, 10};
  SequenceBlocks s;
  ASSERT_TRUE(kv.reserve(s, 4));
  kv.register_full_blocks(s, tokens, 4);
  kv.release(s);
  SequenceBlocks again;
  EXPECT_EQ(kv.attach_cached_prefix(again, tokens, 2), 4);
  EXPECT_EQ(again.blocks, (std::vector<int32_t>{0, 1}));
  kv.release(again);
  // Three fresh blocks: the never-cached one first, then the cached ones, deepest first.
  SequenceBlocks other;
  ASSERT_TRUE(kv.reserve(other, 6));
  EXPECT_EQ(other.blocks, (std::vector<int32_t>{2, 1, 0}));
  SequenceBlocks lookup;
  EXPECT_EQ(kv.attach_cached_prefix(lookup, tokens, 2), 0);  // evicted
  kv.release(other);
  EXPECT_EQ(kv.pool().n_free(), 3);
  EXPECT_EQ(kv.pool().n_cached_free(), 0);
}

}  // namespace llm
