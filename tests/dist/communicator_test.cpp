// The host-staged thread communicator: results of every collective on 1..4 ranks, and the ways a
// group fails — a rank that never arrives (timeout), a rank that aborts, ranks that disagree —
// each an error on every rank within the timeout, never a hang.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>

#include "backend/registry.h"
#include "dist/communicator_registry.h"
#include "dist/local_communicator.h"
#include "dist/thread_communicator.h"

namespace llm {
namespace {

using namespace std::chrono_literals;

// N CPU ranks and their communicators.
struct Group {
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<std::unique_ptr<Communicator>> comms;
};

Group make_group(int world, std::chrono::milliseconds timeout = 10'000ms) {
  Group group;
  std::vector<Backend*> raw;
  for (int r = 0; r < world; ++r) {
    group.backends.push_back(std::move(create_backend(BackendOptions{.device = "cpu", .n_threads = 1}).value()));
    raw.push_back(group.backends.back().get());
  }
  group.comms = std::move(create_communicator_group(raw, CommunicatorGroupOptions{.timeout = timeout}).value());
  return group;
}

// Runs body(rank) on one thread per rank and joins them all.
void on_each_rank(int world, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) threads.emplace_back(body, r);
  for (auto& t : threads) t.join();
}

TensorView view(std::vector<float>& values) {
  return TensorView{values.data(), DType::kF32, Shape{static_cast<int64_t>(values.size())}};
}

TEST(ThreadCommunicator, AllReduceSumsInRankOrderOnEveryRank) {
  for (int world = 1; world <= 4; ++world) {
    Group group = make_group(world);
    std::vector<std::vector<float>> data(static_cast<size_t>(world));
    on_each_rank(world, [&](int r) {
      auto& x = data[static_cast<size_t>(r)];
      for (int i = 0; i < 1001; ++i) x.push_back(0.1f * static_cast<float>(i) + static_cast<float>(r * r) + 1e-7f * r);
      for (int repeat = 0; repeat < 3; ++repeat) {  // buffers are reused across collectives
        ASSERT_TRUE(group.comms[static_cast<size_t>(r)]->all_reduce_sum(view(x)).ok());
      }
    });
    for (int i = 0; i < 1001; ++i) {
      float expected = 0;
      for (int r = 0; r < world; ++r) expected += 0.1f * static_cast<float>(i) + static_cast<float>(r * r) + 1e-7f * r;
      for (int repeat = 1; repeat < 3; ++repeat) expected *= static_cast<float>(world);
      EXPECT_NEAR(data[0][static_cast<size_t>(i)], expected, 1e-3f * std::max(1.0f, std::fabs(expected))) << i;
      for (int r = 1; r < world; ++r) {
        EXPECT_EQ(std::memcmp(&data[0][static_cast<size_t>(i)], &data[static_cast<size_t>(r)][static_cast<size_t>(i)], 4), 0)
            << "rank " << r << " element " << i << " differs bitwise from rank 0";
      }
    }
  }
}

TEST(ThreadCommunicator, AllGatherConcatenatesUnevenPartsInRankOrder) {
  const int world = 3;
  Group group = make_group(world);
  std::vector<std::vector<float>> gathered(world, std::vector<float>(2 + 3 + 4));
  on_each_rank(world, [&](int r) {
    std::vector<float> mine(static_cast<size_t>(2 + r), static_cast<float>(r + 1));
    ASSERT_TRUE(group.comms[static_cast<size_t>(r)]->all_gather(view(mine), view(gathered[static_cast<size_t>(r)])).ok());
  });
  std::vector<float> expected = {1, 1, 2, 2, 2, 3, 3, 3, 3};
  for (int r = 0; r < world; ++r) EXPECT_EQ(gathered[static_cast<size_t>(r)], expected) << "rank " << r;
}

TEST(ThreadCommunicator, BroadcastAndBarrier) {
  const int world = 4;
  Group group = make_group(world);
  std::vector<std::vector<float>> data(world);
  on_each_rank(world, [&](int r) {
    data[static_cast<size_t>(r)] = {static_cast<float>(r), static_cast<float>(10 * r)};
    ASSERT_TRUE(group.comms[static_cast<size_t>(r)]->barrier().ok());
    ASSERT_TRUE(group.comms[static_cast<size_t>(r)]->broadcast(view(data[static_cast<size_t>(r)]), 2).ok());
  });
  for (int r = 0; r < world; ++r) EXPECT_EQ(data[static_cast<size_t>(r)], (std::vector<float>{2, 20}));
}

TEST(ThreadCommunicator, RankThatNeverArrivesTimesOutEveryRank) {
  const int world = 3;
  Group group = make_group(world, 200ms);
  std::vector<std::string> errors(world);
  auto start = std::chrono::steady_clock::now();
  on_each_rank(world, [&](int r) {
    if (r == 2) return;  // this rank hangs elsewhere and never joins
    std::vector<float> x(16, 1.0f);
    Status status = group.comms[static_cast<size_t>(r)]->all_reduce_sum(view(x));
    ASSERT_FALSE(status.ok());
    errors[static_cast<size_t>(r)] = status.error().message;
  });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0) << "the timeout is 200 ms";
  // Whichever waiting rank times out first names the missing rank; the other sees the same failure.
  const std::string expected = "communicator: all_reduce_sum (collective #1) timed out after 200 ms: rank(s) 2 of 3 never arrived";
  EXPECT_EQ(errors[0], expected);
  EXPECT_EQ(errors[1], expected);
  // The group stays failed: the late rank gets the same error at once.
  std::vector<float> x(16, 1.0f);
  Status late = group.comms[2]->all_reduce_sum(view(x));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().message, expected);
}

TEST(ThreadCommunicator, AbortWakesBlockedPeersAtOnce) {
  const int world = 2;
  Group group = make_group(world, 30'000ms);
  std::string error;
  auto start = std::chrono::steady_clock::now();
  on_each_rank(world, [&](int r) {
    if (r == 1) {
      std::this_thread::sleep_for(50ms);
      group.comms[1]->abort("out of memory while loading");
      return;
    }
    std::vector<float> x(4, 1.0f);
    Status status = group.comms[0]->all_reduce_sum(view(x));
    ASSERT_FALSE(status.ok());
    error = status.error().message;
  });
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_EQ(error, "communicator: rank 1 aborted the group: out of memory while loading");
}

TEST(ThreadCommunicator, RanksThatDisagreeFailInsteadOfCorrupting) {
  const int world = 2;
  Group group = make_group(world, 5'000ms);
  std::vector<std::string> errors(world);
  on_each_rank(world, [&](int r) {
    std::vector<float> x(static_cast<size_t>(r == 0 ? 8 : 4), 1.0f);
    Status status = group.comms[static_cast<size_t>(r)]->all_reduce_sum(view(x));
    ASSERT_FALSE(status.ok());
    errors[static_cast<size_t>(r)] = status.error().message;
  });
  const std::string expected =
      "communicator: collective #1: rank 0 called all_reduce_sum (32 bytes, root 0) but rank 1 called all_reduce_sum "
      "(16 bytes, root 0)";
  EXPECT_EQ(errors[0], expected);
  EXPECT_EQ(errors[1], expected);
}

TEST(LocalCommunicator, IsTheIdentity) {
  LocalCommunicator comm;
  std::vector<float> x = {1, 2, 3};
  EXPECT_TRUE(comm.all_reduce_sum(view(x)).ok());
  EXPECT_TRUE(comm.all_gather(view(x), view(x)).ok());
  EXPECT_TRUE(comm.broadcast(view(x), 0).ok());
  EXPECT_TRUE(comm.barrier().ok());
  EXPECT_EQ(x, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(comm.world_size(), 1);
}

TEST(CommunicatorRegistry, NcclNeedsABuildWithIt) {
  if (nccl_available()) GTEST_SKIP() << "this build has NCCL";
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<Backend*> raw;
  for (int r = 0; r < 2; ++r) {
    backends.push_back(std::move(create_backend(BackendOptions{.device = "cpu", .n_threads = 1}).value()));
    raw.push_back(backends.back().get());
  }
  auto group = create_communicator_group(raw, CommunicatorGroupOptions{.kind = CommunicatorKind::kNccl});
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.error().code, ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace llm
