// Times the CUDA backend's ops on Llama-3.1-8B shapes through the public Backend API (host clock
// around 50 synchronised repetitions after a warm-up), to show where a step's time goes:
// GEMV bandwidth per projection, GEMM TFLOP/s for batched rows, attention for prefill and decode.
// Not a test; run by hand on a GPU machine: cuda_op_bench
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "backend/cuda/cuda_test_util.h"
#include "backend/paged_attention_scenario.h"

namespace llm::test {
namespace {

double seconds_per_call(Backend& backend, const std::function<void()>& call, int repeat = 50) {
  call();
  backend.synchronize();
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; ++r) call();
  backend.synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeat;
}

// Random-ish bf16 in [-0.5, 0.5) without the cost of a real generator on a GiB of weights.
HostTensor quick_bf16(Shape shape) {
  HostTensor t(DType::kBF16, shape);
  uint32_t state = 12345;
  uint16_t* values = t.as<uint16_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    state = state * 1664525u + 1013904223u;
    values[i] = float_to_bf16(static_cast<float>(state >> 8) / 16777216.0f - 0.5f);
  }
  return t;
}

}  // namespace
}  // namespace llm::test

int main() {
  using namespace llm;
  using namespace llm::test;
  std::unique_ptr<Backend> backend = make_cuda("cuda");
  if (!backend) return 1;
  std::printf("%s\n%-40s %12s %12s\n", backend->name().c_str(), "op", "microseconds", "rate");
  struct Projection {
    const char* name;
    int64_t m, k;
  };
  const Projection projections[] = {{"wq/wo 4096x4096", 4096, 4096},
                                    {"wk/wv 1024x4096", 1024, 4096},
                                    {"w1/w3 14336x4096", 14336, 4096},
                                    {"w2 4096x14336", 4096, 14336},
                                    {"output 128256x4096", 128256, 4096}};
  for (const Projection& p : projections) {
    HostTensor weight = quick_bf16({p.m, p.k});
    DeviceTensor w = upload(*backend, weight);
    for (int64_t n : {1, 8, 64, 512, 2048}) {
      if (p.m == 128256 && n > 64) continue;
      HostTensor x = f32_tensor({n, p.k}, random_floats(n * p.k, 3));
      DeviceTensor xd = upload(*backend, x);
      DeviceTensor out = device_nan(*backend, {n, p.m});
      double t = seconds_per_call(*backend, [&] { backend->linear(xd.view, w.view, out.view); });
      if (n <= 8) {
        std::printf("linear %-24s n=%-5lld %12.1f %9.0f GB/s\n", p.name, static_cast<long long>(n), t * 1e6,
                    static_cast<double>(weight.view.bytes()) / t / 1e9);
      } else {
        std::printf("linear %-24s n=%-5lld %12.1f %7.0f TFLOP/s\n", p.name, static_cast<long long>(n), t * 1e6,
                    2.0 * n * p.m * p.k / t / 1e12);
      }
    }
  }
  // A layer's fused products on 8B shapes, stacked weights as the model places them.
  {
    const int64_t dim = 4096, ffn = 14336, q_dim = 4096, kv_dim = 1024;
    HostTensor qkv_host = quick_bf16({q_dim + 2 * kv_dim, dim}), gate_up_host = quick_bf16({2 * ffn, dim}),
               w2_host = quick_bf16({dim, ffn});
    DeviceTensor qkv = upload(*backend, qkv_host), gate_up = upload(*backend, gate_up_host);
    DeviceTensor w2 = upload(*backend, w2_host);
    auto* qkv_base = static_cast<std::byte*>(qkv.view.data);
    const QkvWeights qkv_weights{.wq = TensorView{qkv_base, DType::kBF16, {q_dim, dim}},
                                 .wk = TensorView{qkv_base + q_dim * dim * 2, DType::kBF16, {kv_dim, dim}},
                                 .wv = TensorView{qkv_base + (q_dim + kv_dim) * dim * 2, DType::kBF16, {kv_dim, dim}},
                                 .stacked = qkv.view};
    const FeedForwardWeights ffn_weights{
        .w1 = TensorView{gate_up.view.data, DType::kBF16, {ffn, dim}},
        .w3 = TensorView{static_cast<std::byte*>(gate_up.view.data) + ffn * dim * 2, DType::kBF16, {ffn, dim}},
        .w2 = w2.view,
        .gate_up = gate_up.view};
    for (int64_t n : {1, 64, 2048}) {
      HostTensor x = f32_tensor({n, dim}, random_floats(n * dim, 5));
      DeviceTensor xd = upload(*backend, x);
      DeviceTensor out = device_nan(*backend, {n, q_dim + 2 * kv_dim + 2 * ffn});
      auto* o = static_cast<std::byte*>(out.view.data);
      TensorView q{o, DType::kF32, {n, q_dim}}, k{o + n * q_dim * 4, DType::kF32, {n, kv_dim}},
          v{o + n * (q_dim + kv_dim) * 4, DType::kF32, {n, kv_dim}};
      TensorView gate{o, DType::kF32, {n, ffn}}, up{o + n * ffn * 4, DType::kF32, {n, ffn}};
      double t = seconds_per_call(*backend, [&] { backend->qkv_projection(xd.view, qkv_weights, q, k, v); });
      std::printf("qkv_projection 6144x4096 n=%-5lld %12.1f %7.1f TFLOP/s\n", static_cast<long long>(n), t * 1e6,
                  2.0 * n * (q_dim + 2 * kv_dim) * dim / t / 1e12);
      t = seconds_per_call(*backend, [&] { backend->feed_forward(xd.view, ffn_weights, gate, up, xd.view); });
      std::printf("feed_forward 3x14336x4096 n=%-5lld %12.1f %7.1f TFLOP/s\n", static_cast<long long>(n), t * 1e6,
                  2.0 * n * 3 * ffn * dim / t / 1e12);
    }
  }

  // Attention, 8B heads (32 query, 8 KV, head_dim 128), bf16 cache (the CUDA default). Prefill
  // rows: causal FLOPs 4 x head_dim x heads x (keys each row sees), as TFLOP/s.
  for (auto [n_query, context, n_seqs] : {std::tuple{512, 512, 1}, std::tuple{2048, 2048, 1}, std::tuple{512, 8192, 1},
                                          std::tuple{1, 256, 1}, std::tuple{1, 8192, 1}, std::tuple{1, 256, 64}}) {
    std::vector<SequenceSpec> sequences(static_cast<size_t>(n_seqs), SequenceSpec{context, n_query});
    PagedScenario scenario(PagedScenarioOptions{.sequences = sequences, .block_size = 16, .n_heads = 32,
                                                .n_kv_heads = 8, .head_dim = 128, .cache_dtype = DType::kBF16});
    DeviceTensor q = upload(*backend, scenario.q), k = upload(*backend, scenario.k_cache),
                 v = upload(*backend, scenario.v_cache), starts = upload(*backend, scenario.query_start),
                 positions = upload(*backend, scenario.positions), tables = upload(*backend, scenario.block_tables);
    DeviceTensor out = device_nan(*backend, scenario.q.view.shape);
    AttentionBatch batch = scenario.batch();
    batch.query_start = starts.view;
    batch.positions = positions.view;
    batch.block_tables = tables.view;
    double t = seconds_per_call(*backend, [&] {
      backend->paged_attention(q.view, KvCacheView{k.view, v.view}, batch, out.view);
    });
    double keys_seen = 0;  // over all rows: row r of the last n_query positions sees context - n_query + r + 1
    for (int r = 0; r < n_query; ++r) keys_seen += context - n_query + r + 1;
    std::printf("attention %d seq x %d rows, context %-6d %12.1f %7.0f TFLOP/s\n", n_seqs, n_query, context, t * 1e6,
                4.0 * 128 * 32 * keys_seen * n_seqs / t / 1e12);
  }
  return 0;
}
