// The rounding of the tensor-core prefill kernel (attention_prefill.cu) emulated on the host, to
// size the tolerance of CudaOps.PagedAttentionPrefill* without a GPU: q * scale * log2(e) rounded
// to the operand type (bf16 or f16), K/V in that type, 64-key tiles, online softmax with exp2, P
// rounded, l = the sum of the rounded P; against causal attention in double on the same K/V, on
// the tests' sequence shapes. Prints the worst diff / (2e-3 + 1e-2 |expected|) per case.
//   g++ -O2 -std=c++20 tools/gpu/prefill_attention_numerics.cpp -o /tmp/numerics && /tmp/numerics
// Seen (2026-12-03): worst ratio 0.71 (bf16), 0.12 (f16); no failures.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
#include <algorithm>
enum Op { BF16, F16 };
float round_bf16(float x) { uint32_t u; memcpy(&u, &x, 4); u += 0x7fff + ((u >> 16) & 1); u &= 0xffff0000u; float y; memcpy(&y, &u, 4); return y; }
float round_f16(float x) { return (float)(_Float16)x; }
float rnd(Op op, float x) { return op == BF16 ? round_bf16(x) : round_f16(x); }
int main() {
  struct Seq { int context, nq; };
  std::vector<std::vector<Seq>> scenarios = {{{200, 200}, {130, 70}, {64, 64}, {300, 1}, {1000, 128}},
                                            {{97, 97}, {777, 333}, {40, 1}, {150, 64}}, {{2100, 2100}}};
  for (Op op : {BF16, F16}) for (int D : {64, 128}) for (size_t sc = 0; sc < scenarios.size(); ++sc) {
    std::mt19937 rng(1234 + D + sc);
    std::uniform_real_distribution<float> u1(-1, 1), u2(-2, 2);
    double worst = 0, worst_diff = 0; long fails = 0, total = 0;
    const float scale = 1.0f / std::sqrt((float)D), qs = scale * 1.4426950408889634f;
    for (auto [C, nq] : scenarios[sc]) for (int head = 0; head < 4; ++head) {
      std::vector<float> K(C * D), V(C * D);
      for (auto& x : K) x = rnd(op, u1(rng));
      for (auto& x : V) x = rnd(op, u1(rng));
      for (int r = 0; r < nq; ++r) {
        int pos = C - nq + r;
        std::vector<float> q(D), qr(D);
        for (int d = 0; d < D; ++d) { q[d] = u2(rng); qr[d] = rnd(op, q[d] * qs); }
        // reference
        std::vector<double> w(pos + 1); double mx = -INFINITY, tot = 0;
        for (int t = 0; t <= pos; ++t) { double dot = 0; for (int d = 0; d < D; ++d) dot += (double)q[d] * K[t * D + d]; w[t] = dot * scale; mx = std::max(mx, w[t]); }
        for (auto& x : w) tot += (x = std::exp(x - mx));
        // kernel emulation
        float m = -INFINITY, l = 0; std::vector<float> o(D, 0.f);
        for (int k0 = 0; k0 <= pos; k0 += 64) {
          float s[64]; float tm = -INFINITY;
          for (int k = 0; k < 64; ++k) { int t = k0 + k; if (t > pos) { s[k] = -INFINITY; continue; }
            float dot = 0; for (int d = 0; d < D; ++d) dot += qr[d] * K[t * D + d]; s[k] = dot; tm = std::max(tm, dot); }
          float mn = std::max(m, tm), mu = mn == -INFINITY ? 0 : mn, corr = std::exp2(m - mu); m = mn; l *= corr;
          for (auto& x : o) x *= corr;
          for (int k = 0; k < 64; ++k) { float p = rnd(op, std::exp2(s[k] - mu)); l += p; if (p != 0) for (int d = 0; d < D; ++d) o[d] += p * V[(k0 + k) * D + d]; }
        }
        for (int d = 0; d < D; ++d) {
          double ref = 0; for (int t = 0; t <= pos; ++t) ref += w[t] * V[t * D + d]; ref /= tot;
          double got = o[d] / l, diff = std::fabs(got - ref), tol = 2e-3 + 1e-2 * std::fabs(ref);
          worst = std::max(worst, diff / tol); worst_diff = std::max(worst_diff, diff); fails += diff > tol; ++total;
        }
      }
    }
    printf("%s D=%d scenario %zu: worst diff %.2e, worst diff/tolerance %.3f, fails %ld of %ld\n", op == BF16 ? "bf16" : "f16", D, sc, worst_diff, worst, fails, total);
  }
}
