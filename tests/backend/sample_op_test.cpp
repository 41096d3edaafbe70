// The CPU backend's sample op (both variants) is pick_token row by row.
#include <gtest/gtest.h>

#include <random>

#include "backend/cpu/cpu_backend.h"
#include "backend/sampling_cases.h"

namespace llm::test {
namespace {

TEST(CpuSample, RowsArePickToken) {
  CpuBackend fast({.n_threads = 3});
  CpuBackend reference({.n_threads = 1, .reference = true});
  const int64_t vocab = 259;
  const std::vector<TokenSampling> grid = sampling_grid(vocab);
  std::mt19937_64 rng(17);
  for (LogitsKind kind : kAllLogitsKinds) {
    SCOPED_TRACE(logits_kind_name(kind));
    const int64_t n = static_cast<int64_t>(grid.size());
    HostTensor logits = f32_tensor({n, vocab}, sampling_logits(n * vocab, kind, 5));
    std::vector<TokenSampling> params = grid;
    for (size_t i = 0; i < params.size(); ++i) params[i].uniform = sampling_uniform(static_cast<int64_t>(i), rng);
    HostTensor params_tensor = sampling_params_tensor(params);
    for (Backend* backend : {static_cast<Backend*>(&fast), static_cast<Backend*>(&reference)}) {
      HostTensor out(DType::kI32, {n});
      backend->sample(logits.view, params_tensor.view, out.view);
      for (int64_t row = 0; row < n; ++row) {
        std::span<const float> row_logits(logits.f32() + row * vocab, static_cast<size_t>(vocab));
        ASSERT_EQ(out.i32()[row], pick_token(row_logits, params[static_cast<size_t>(row)]))
            << backend->name() << " row " << row;
      }
    }
  }
  // No rows: nothing to do.
  HostTensor empty_logits(DType::kF32, {0, vocab}), empty_params(DType::kI32, {0, kTokenSamplingWords});
  HostTensor empty_out(DType::kI32, {0});
  fast.sample(empty_logits.view, empty_params.view, empty_out.view);
}

}  // namespace
}  // namespace llm::test
