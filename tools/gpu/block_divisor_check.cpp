// Checks the round-up magic-number division of BlockDivisor (attention_prefill.cu) against '/':
// every divisor 1..4096 on the lowest and highest 300,000 numerators below 2^31, and a few large
// divisors on a stride through [0, 2^31).  g++ -O2 tools/gpu/block_divisor_check.cpp && ./a.out
// Seen (2026-12-03): "mismatches: 0".
#include <initializer_list>
#include <cstdint>
#include <cstdio>
struct D { uint32_t magic; int shift; };
D make(uint32_t d) { int l = 0; while ((1ull << l) < d) ++l; uint64_t m = ((1ull << 32) * ((1ull << l) - d)) / d + 1; return {static_cast<uint32_t>(m), l}; }
uint32_t div(uint32_t n, D dv) { uint32_t hi = static_cast<uint32_t>((static_cast<uint64_t>(n) * dv.magic) >> 32); return (hi + n) >> dv.shift; }
int main() {
  long bad = 0;
  for (uint32_t d = 1; d <= 4096; ++d) {
    D dv = make(d);
    for (uint32_t n = 0; n < 300000; ++n) bad += div(n, dv) != n / d;
    for (uint32_t n = 0x7fffffffu - 300000; n <= 0x7fffffffu - 1; ++n) bad += div(n, dv) != n / d;
  }
  for (uint32_t d : {3u, 7u, 100000u, 1u << 20, 0x7fffffffu}) { D dv = make(d); for (uint64_t n = 0; n < 0x80000000ull; n += 997) bad += div(n, dv) != n / d; }
  printf("mismatches: %ld\n", bad);
}
