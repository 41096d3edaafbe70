// Throughput printout of the fast linear (not a timed assertion: shared machines are noisy).
// Threads: LLM_BENCH_THREADS (default 2). Validates against the reference on a few outputs first.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/reference_ops.h"
#include "cpu_test_util.h"

namespace llm::test {
namespace {

int bench_threads() {
  const char* text = std::getenv("LLM_BENCH_THREADS");
  return text != nullptr ? std::max(1, std::atoi(text)) : 2;
}

void report_linear(DType dtype, int64_t n, int64_t k, int64_t m, int repeats) {
  CpuBackend backend({.n_threads = bench_threads()});
  HostTensor x = f32_tensor({n, k}, random_floats(n * k, 1));
  HostTensor weight = random_tensor(dtype, {m, k}, 2);
  HostTensor out(DType::kF32, {n, m});
  backend.linear(x.view, weight.view, out.view);  // warm-up (page faults, caches)

  // Spot-check the first 8 outputs of row 0 against the reference.
  HostTensor x0(DType::kF32, {1, k}), w8(dtype, {8, k}), expected(DType::kF32, {1, 8});
  std::memcpy(x0.bytes.data(), x.bytes.data(), x0.bytes.size());
  std::memcpy(w8.bytes.data(), weight.bytes.data(), w8.bytes.size());
  reference_linear(x0.view, w8.view, expected.view);
  for (int j = 0; j < 8; ++j) EXPECT_NEAR(out.f32()[j], expected.f32()[j], 1e-3 * (1 + std::fabs(expected.f32()[j])));

  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    backend.linear(x.view, weight.view, out.view);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  double weight_bytes = static_cast<double>(weight.bytes.size());
  double flops = 2.0 * static_cast<double>(n) * k * m;
  std::cout << "linear " << dtype_name(dtype) << " [" << n << ", " << k << "] x [" << m << ", " << k << "]^T on "
            << backend.name() << ": " << best * 1e3 << " ms, " << weight_bytes / best / 1e9 << " GB/s weights, "
            << flops / best / 1e9 << " GFLOP/s\n";
}

TEST(CpuLinearThroughput, Decode) {
  report_linear(DType::kBF16, 1, 4096, 4096, 20);
  report_linear(DType::kF16, 1, 4096, 4096, 20);
  report_linear(DType::kF32, 1, 4096, 4096, 10);
  report_linear(DType::kQ8_0, 1, 4096, 4096, 10);
}

TEST(CpuLinearThroughput, Prefill) {
  report_linear(DType::kBF16, 128, 2048, 2048, 3);
  report_linear(DType::kF32, 128, 2048, 2048, 3);
}

}  // namespace
}  // namespace llm::test
