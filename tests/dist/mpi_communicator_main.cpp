// Run under mpirun (tests/dist/CMakeLists.txt): the MPI communicator across processes.
//   collectives   every collective's result on every rank (CPU backends); exit 0 on success
//   stall         rank 1 never joins; rank 0's all_reduce must time out after 1 s and abort the
//                 job (mpirun exits non-zero within seconds, not after rank 1's 60 s sleep)
//   exit-early    rank 1 exits at once (status 3) without joining; the job must end non-zero
//   hang-after-split  world rank 1 of a `llama run --tp 2` job (mpirun's MPMD form): joins the
//                 stage group like a llama rank would, then hangs; llama's first all_reduce must
//                 time out (--collective-timeout) and abort the job
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "backend/registry.h"
#include "dist/communicator_registry.h"

namespace llm {
namespace {

using namespace std::chrono_literals;

TensorView view(std::vector<float>& values) {
  return TensorView{values.data(), DType::kF32, Shape{static_cast<int64_t>(values.size())}};
}

int check(bool ok, int rank, const std::string& what) {
  if (ok) return 0;
  std::fprintf(stderr, "rank %d: FAILED %s\n", rank, what.c_str());
  return 1;
}

int collectives(ProcessGroup& world, Communicator& comm) {
  const int rank = comm.rank(), size = comm.world_size();
  int failures = 0;
  // all_reduce_sum: x[i] = 0.1 i + r^2; the sum in rank order, bitwise.
  std::vector<float> x(1001);
  for (int repeat = 0; repeat < 3; ++repeat) {
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i) + static_cast<float>(rank * rank);
    failures += check(comm.all_reduce_sum(view(x)).ok(), rank, "all_reduce_sum status");
    for (size_t i = 0; i < x.size(); ++i) {
      float expected = 0.1f * static_cast<float>(i);
      for (int r = 1; r < size; ++r) expected += 0.1f * static_cast<float>(i) + static_cast<float>(r * r);
      if (x[i] != expected) {
        failures += check(false, rank, "all_reduce_sum value at " + std::to_string(i));
        break;
      }
    }
  }
  // all_gather, uneven: rank r brings r + 1 copies of r.
  std::vector<float> mine(static_cast<size_t>(rank + 1), static_cast<float>(rank));
  std::vector<float> all(static_cast<size_t>(size * (size + 1) / 2));
  failures += check(comm.all_gather(view(mine), view(all)).ok(), rank, "all_gather status");
  size_t at = 0;
  for (int r = 0; r < size; ++r) {
    for (int k = 0; k <= r; ++k) failures += check(all[at++] == static_cast<float>(r), rank, "all_gather value");
  }
  // broadcast from the last rank.
  std::vector<float> b(7, static_cast<float>(rank));
  failures += check(comm.broadcast(view(b), size - 1).ok(), rank, "broadcast status");
  for (float v : b) failures += check(v == static_cast<float>(size - 1), rank, "broadcast value");
  failures += check(comm.barrier().ok(), rank, "barrier");
  // The process group's host broadcast (the pipeline hand-off): receivers take root's size.
  std::vector<float> handoff(rank == 0 ? 5 : 0, 2.5f);
  failures += check(world.broadcast_floats(handoff, 0).ok() && handoff.size() == 5 && handoff[4] == 2.5f, rank,
                    "broadcast_floats");
  if (rank == 0 && failures == 0) std::printf("mpi collectives: ok on %d processes\n", size);
  return failures == 0 ? 0 : 1;
}

int run(const std::string& scenario) {
  auto timeout = scenario == "stall" ? 1000ms : scenario == "exit-early" ? 20'000ms : 10'000ms;
  Result<std::shared_ptr<ProcessGroup>> world = create_process_world(timeout);
  if (!world) {
    std::fprintf(stderr, "%s\n", world.error().to_string().c_str());
    return 2;
  }
  if (scenario == "hang-after-split") {
    Result<std::unique_ptr<ProcessGroup>> stage = (*world)->split(/*color=*/0, /*key=*/(*world)->rank());
    if (!stage) (*world)->abort(stage.error().to_string());
    std::this_thread::sleep_for(60s);
    return 0;
  }
  auto backend = std::move(create_backend(BackendOptions{.device = "cpu", .n_threads = 1}).value());
  auto comm = create_process_communicator(**world, *backend,
                                          ProcessCommunicatorOptions{.kind = CommunicatorKind::kMpi,
                                                                     .timeout = timeout});
  if (!comm) (*world)->abort(comm.error().to_string());
  if (scenario == "collectives") return collectives(**world, **comm);
  if ((*world)->rank() == 1) {
    if (scenario == "exit-early") std::_Exit(3);
    std::this_thread::sleep_for(60s);  // never joins
    return 0;
  }
  std::vector<float> x(16, 1.0f);
  Status status = (*comm)->all_reduce_sum(view(x));
  if (!status) (*comm)->abort(status.error().message);  // the executor's reaction: ends every process
  std::fprintf(stderr, "rank 0: all_reduce_sum returned without its peer\n");
  return 0;  // unreachable when the timeout works; exit 0 makes the test fail
}

}  // namespace
}  // namespace llm

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mpi_communicator_main collectives|stall|exit-early\n");
    return 2;
  }
  return llm::run(argv[1]);
}
