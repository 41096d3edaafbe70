// The KV pool planner: what fits in the allowed share of a device after what is in use, capped
// at what the engine can use, and a clear refusal when not even one sequence fits.
#include <gtest/gtest.h>

#include "model/kv_sizing.h"

namespace llm {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kMiB = int64_t{1} << 20;

// An 8B-shaped pool: 32 layers x K and V x 8 kv heads x 128 dims x bf16 x 16 tokens = 2 MiB a block.
KvBudgetInput eight_b(DeviceMemory memory) {
  return KvBudgetInput{.memory = memory,
                       .utilization = 0.90,
                       .reserve_bytes = 512 * kMiB,
                       .bytes_per_block = 2 * kMiB,
                       .block_size = 16,
                       .blocks_wanted = 1 << 20,
                       .blocks_required = 512};
}

TEST(KvSizing, TakesTheAllowedShareLessWhatIsInUse) {
  // 80 GiB card, 16 GiB in use: 72 GiB allowed, 56 left, 0.5 kept -> 55.5 GiB of 2 MiB blocks.
  Result<KvBudget> budget = plan_kv_blocks(eight_b({.total_bytes = 80 * kGiB, .free_bytes = 64 * kGiB}));
  ASSERT_TRUE(budget.ok()) << budget.error().to_string();
  EXPECT_EQ(budget->n_blocks, (72 * kGiB - 16 * kGiB - 512 * kMiB) / (2 * kMiB));
  EXPECT_NE(budget->explanation.find("0.9 of 80.00 GiB"), std::string::npos) << budget->explanation;
}

TEST(KvSizing, SaysWhatLivesInHostMemory) {
  // Host-mapped weights (the token embedding) count nowhere in the device's use: the plan says so.
  Result<KvBudget> budget = plan_kv_blocks(
      eight_b({.total_bytes = 80 * kGiB, .free_bytes = 64 * kGiB, .host_mapped_bytes = kGiB + 2 * kMiB}));
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->n_blocks, (72 * kGiB - 16 * kGiB - 512 * kMiB) / (2 * kMiB));
  EXPECT_NE(budget->explanation.find("1.00 GiB of weights, the token embedding, read in place from pinned host memory"),
            std::string::npos)
      << budget->explanation;
  budget = plan_kv_blocks(eight_b({.total_bytes = 80 * kGiB, .free_bytes = 64 * kGiB}));
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->explanation.find("host memory"), std::string::npos) << budget->explanation;
}

TEST(KvSizing, StopsAtWhatTheEngineCanUse) {
  KvBudgetInput input = eight_b({.total_bytes = 80 * kGiB, .free_bytes = 64 * kGiB});
  input.blocks_wanted = 1000;
  Result<KvBudget> budget = plan_kv_blocks(input);
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->n_blocks, 1000);
  EXPECT_NE(budget->explanation.find("capped"), std::string::npos) << budget->explanation;
}

TEST(KvSizing, NeverTakesMoreThanIsFree) {
  // Another process holds 40 GiB: 24 GiB in use by us leaves 72 - 64 = 8 allowed, but only 16 is
  // free at all; here the allowed share is the tighter bound. Then a card nearly full of others.
  Result<KvBudget> budget = plan_kv_blocks(eight_b({.total_bytes = 80 * kGiB, .free_bytes = 16 * kGiB}));
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->n_blocks, (72 * kGiB - 64 * kGiB - 512 * kMiB) / (2 * kMiB));
  KvBudgetInput low_share = eight_b({.total_bytes = 80 * kGiB, .free_bytes = 2 * kGiB});
  low_share.utilization = 1.0;
  low_share.blocks_required = 1;
  budget = plan_kv_blocks(low_share);
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->n_blocks, (2 * kGiB - 512 * kMiB) / (2 * kMiB));
}

TEST(KvSizing, RefusesWhenOneSequenceDoesNotFit) {
  // A 24 GiB card with 16 GiB of weights at 0.9: 21.6 - 16.5 (incl. the reserve) is ~5.1 GiB,
  // less than the 8 GiB asked for.
  KvBudgetInput input = eight_b({.total_bytes = 24 * kGiB, .free_bytes = 8 * kGiB});
  input.blocks_required = 4096;  // 8 GiB
  Result<KvBudget> budget = plan_kv_blocks(input);
  ASSERT_FALSE(budget.ok());
  EXPECT_EQ(budget.error().code, ErrorCode::kOutOfMemory);
  EXPECT_NE(budget.error().message.find("--gpu-memory-utilization"), std::string::npos) << budget.error().message;
  EXPECT_NE(budget.error().message.find("4096 blocks"), std::string::npos) << budget.error().message;
}

TEST(KvSizing, RejectsABadUtilization) {
  for (double utilization : {0.0, -0.5, 1.5}) {
    KvBudgetInput input = eight_b({.total_bytes = 80 * kGiB, .free_bytes = 64 * kGiB});
    input.utilization = utilization;
    Result<KvBudget> budget = plan_kv_blocks(input);
    ASSERT_FALSE(budget.ok());
    EXPECT_EQ(budget.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace llm
