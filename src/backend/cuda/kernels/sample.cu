// Sampling on the device: one thread block per row picks the token pick_token
// (backend/sampling.h) picks, without sorting the vocabulary, so only ids go to the host.
//
// pick_token walks the candidates in sorted order (logit descending, ties by id ascending). Every
// set it keeps (top_k, then top_p, then min_p) is a prefix of that order, and so is the answer of
// the draw: "the first candidate at which a running sum (of counts or of probabilities) reaches a
// target". The block finds such a boundary by radix select on an order-preserving uint32 key of
// each logit: 4 passes of 8 bits, each a 256-bin shared-memory histogram of the weight of the
// candidates whose higher digits match; the bin where the running sum (taken from the highest
// digit down) reaches the target fixes the next digit. Candidates with that exact key are ties of
// equal weight, so the boundary among them is found by counting in id order.
//
// Probabilities are exp(float(logit / T) - float(top / T)) in double, as in pick_token, held as
// 64-bit fixed point (scaled by 2^(62 - ceil(log2 vocab)), so no sum over a row can overflow) for
// the histograms and sums: integer atomics and reductions are exact in any order, so the kernel is
// deterministic run to run. Rounding each probability down to the fixed-point grid costs at most
// vocab x 2^-(62 - ceil(log2 vocab)) absolute (~2e-9 at vocab 128256) against a total >= 1: the
// pick can differ from pick_token only when the reference's running sum lies that close to a
// boundary (top_p x total, min_p x top, or uniform x mass).
//
// No allocation, no host synchronisation (capturable in a CUDA graph); reads stay within
// logits [n, vocab] and params [n, 6] whatever their contents; NaN logits count as -inf.
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/kernels.h"
#include "backend/sampling.h"

namespace llm::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 256;
constexpr unsigned kFullMask = 0xffffffffu;

// TokenSampling read word by word: the i32 buffer is 4-byte aligned, the double in it may not be 8.
struct RowParams {
  float temperature;
  int32_t top_k;
  float top_p;
  float min_p;
  double uniform;
};

__device__ RowParams load_params(const int32_t* words) {
  static_assert(kTokenSamplingWords == 6);
  const uint64_t low = static_cast<uint32_t>(words[4]), high = static_cast<uint32_t>(words[5]);  // little-endian
  const uint64_t uniform_bits = low | high << 32;
  return RowParams{
      .temperature = __int_as_float(words[0]),
      .top_k = words[1],
      .top_p = __int_as_float(words[2]),
      .min_p = __int_as_float(words[3]),
      .uniform = __longlong_as_double(static_cast<long long>(uniform_bits)),
  };
}

// NaN -> -inf (pick_token's rule) and -0 -> +0 (they compare equal, so they must share a key).
__device__ __forceinline__ float canonical(float logit) {
  if (isnan(logit)) return -INFINITY;
  return logit == 0.0f ? 0.0f : logit;
}

// Unsigned order equals float order (for canonical floats): flip all bits of negatives, the sign of positives.
__device__ __forceinline__ uint32_t order_key(float value) {
  const uint32_t bits = __float_as_uint(value);
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

__device__ __forceinline__ float key_value(uint32_t key) {
  return __uint_as_float((key & 0x80000000u) != 0 ? key & 0x7fffffffu : ~key);
}

// A prefix of the sorted order: every candidate at or before (key, id).
struct Boundary {
  uint32_t key;
  int32_t id;
};
constexpr Boundary kWholeRow{0u, INT32_MAX};  // key 0 is below every canonical key (-inf is 0x007fffff)

__device__ __forceinline__ bool at_or_before(uint32_t key, int32_t id, Boundary boundary) {
  return key > boundary.key || (key == boundary.key && id <= boundary.id);
}

struct Row {
  const float* logits;  // [vocab]
  int64_t vocab;
  float temperature;
  float top_scaled;     // top logit / temperature, finite
  double fixed_scale;   // probability 1 in fixed point
};

// exp(logit/T - top/T) with pick_token's roundings (float division, then double); in [0, 1].
__device__ __forceinline__ double probability(const Row& row, float logit) {
  const double p = exp(static_cast<double>(logit / row.temperature) - static_cast<double>(row.top_scaled));
  return fmin(p, 1.0);
}

__device__ __forceinline__ uint64_t fixed_mass(const Row& row, float logit) {
  return __double2ull_rz(probability(row, logit) * row.fixed_scale);
}

struct Scratch {
  unsigned long long histogram[kBins];
  unsigned long long warp_values[kWarps];
  uint32_t warp_counts[kWarps];
  uint32_t digit;
  unsigned long long below_digit;  // weight of the candidates above the chosen digit
  int found;
  int32_t id;
};

struct MaxOp {
  __device__ uint64_t operator()(uint64_t a, uint64_t b) const { return a > b ? a : b; }
};
struct SumOp {
  __device__ uint64_t operator()(uint64_t a, uint64_t b) const { return a + b; }
};

// The block's reduction of one value per thread, returned to every thread. Integer ops only, so
// the result does not depend on the order.
template <class Op>
__device__ uint64_t block_reduce(uint64_t value, Scratch& scratch, Op op) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int offset = 16; offset > 0; offset /= 2) value = op(value, __shfl_xor_sync(kFullMask, value, offset));
  __syncthreads();  // every thread is done with the previous reduction's warp_values
  if (lane == 0) scratch.warp_values[warp] = value;
  __syncthreads();
  uint64_t result = scratch.warp_values[0];
  for (int w = 1; w < kWarps; ++w) result = op(result, scratch.warp_values[w]);
  return result;
}

// Sum over the candidates in `in_set` of their fixed-point probability.
template <class InSet>
__device__ uint64_t set_mass(const Row& row, InSet in_set, Scratch& scratch) {
  uint64_t sum = 0;
  for (int64_t i = threadIdx.x; i < row.vocab; i += kThreads) {
    const float logit = canonical(row.logits[i]);
    if (in_set(static_cast<int32_t>(i), order_key(logit), logit)) sum += fixed_mass(row, logit);
  }
  return block_reduce(sum, scratch, SumOp{});
}

// The id of the rank-th (1-based) candidate in id order with key `key` among those in `in_set`;
// `fallback` if there are fewer (not reached when the caller's counts are right). Tiles of
// kThreads ids in order, stopping at the tile that holds it.
template <class InSet>
__device__ int32_t nth_tie(const Row& row, uint32_t key, uint64_t rank, InSet in_set, int32_t fallback,
                           Scratch& scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  uint64_t seen = 0;  // ties in the tiles before this one
  for (int64_t base = 0; base < row.vocab; base += kThreads) {
    const int64_t i = base + threadIdx.x;
    bool tie = false;
    if (i < row.vocab) {
      const float logit = canonical(row.logits[i]);
      const uint32_t candidate_key = order_key(logit);
      tie = candidate_key == key && in_set(static_cast<int32_t>(i), candidate_key, logit);
    }
    const int tile_ties = __syncthreads_count(tie);  // also: everyone has read the last scratch.id
    if (seen + static_cast<uint64_t>(tile_ties) < rank) {
      seen += static_cast<uint64_t>(tile_ties);
      continue;
    }
    const unsigned ballot = __ballot_sync(kFullMask, tie);
    if (lane == 0) scratch.warp_counts[warp] = static_cast<uint32_t>(__popc(ballot));
    if (threadIdx.x == 0) scratch.id = fallback;
    __syncthreads();
    if (tie) {
      uint64_t position = seen + static_cast<uint64_t>(__popc(ballot & ((1u << lane) - 1u))) + 1;
      for (int w = 0; w < warp; ++w) position += scratch.warp_counts[w];
      if (position == rank) scratch.id = static_cast<int32_t>(i);
    }
    __syncthreads();
    return scratch.id;
  }
  return fallback;
}

// The first candidate in sorted order among those in `in_set` at which the running weight (1 per
// candidate, or its fixed-point probability with kMass) reaches `target` >= 1. False when the
// set's whole weight is below target. Every thread of the block calls it and gets the same answer.
template <bool kMass, class InSet>
__device__ bool select_boundary(const Row& row, InSet in_set, uint64_t target, Scratch& scratch, Boundary* result) {
  uint32_t prefix = 0, prefix_mask = 0;
  uint64_t above = 0;  // weight of the set's candidates with keys above the digits chosen so far (< target)
  for (int shift = 24; shift >= 0; shift -= 8) {
    __syncthreads();  // the previous pass (or caller) is done reading scratch
    for (int bin = threadIdx.x; bin < kBins; bin += kThreads) scratch.histogram[bin] = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < row.vocab; i += kThreads) {
      const float logit = canonical(row.logits[i]);
      const uint32_t key = order_key(logit);
      if ((key & prefix_mask) != prefix || !in_set(static_cast<int32_t>(i), key, logit)) continue;
      const uint64_t weight = kMass ? fixed_mass(row, logit) : 1u;
      if (weight != 0) atomicAdd(&scratch.histogram[(key >> shift) & 0xffu], static_cast<unsigned long long>(weight));
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      // Lane l holds digits 255 - 8l down to 248 - 8l: the running sum goes from high keys down.
      const int lane = threadIdx.x;
      uint64_t bins[8], lane_sum = 0;
      for (int j = 0; j < 8; ++j) {
        bins[j] = scratch.histogram[255 - 8 * lane - j];
        lane_sum += bins[j];
      }
      uint64_t inclusive = lane_sum;
      for (int offset = 1; offset < 32; offset *= 2) {
        const uint64_t other = __shfl_up_sync(kFullMask, inclusive, offset);
        if (lane >= offset) inclusive += other;
      }
      uint64_t before = above + inclusive - lane_sum;
      if (before < target && target <= before + lane_sum) {  // exactly one lane when found
        for (int j = 0; j < 8; ++j) {
          if (target <= before + bins[j]) {
            scratch.digit = static_cast<uint32_t>(255 - 8 * lane - j);
            scratch.below_digit = before;
            break;
          }
          before += bins[j];
        }
      }
      if (lane == 31) scratch.found = above + inclusive >= target;
    }
    __syncthreads();
    if (!scratch.found) return false;
    prefix |= scratch.digit << shift;
    prefix_mask |= 0xffu << shift;
    above = scratch.below_digit;
  }
  // prefix is now the boundary's key; its ties all weigh the same, so the boundary is the
  // ceil((target - above) / weight)-th of them in id order.
  const uint64_t tie_weight = kMass ? fixed_mass(row, key_value(prefix)) : 1u;  // > 0: its bin reached target
  const uint64_t rank = (target - above + tie_weight - 1) / tie_weight;
  const int32_t id = nth_tie(row, prefix, rank, in_set, INT32_MAX, scratch);
  *result = Boundary{prefix, id};
  return true;
}

// One block per row. logits f32 [n, vocab]; params i32 [n, 6]; out i32 [n].
__global__ void __launch_bounds__(kThreads) sample_rows(const float* logits, int64_t vocab, const int32_t* params,
                                                        int32_t* out) {
  __shared__ Scratch scratch;
  const int64_t row_index = blockIdx.x;
  const RowParams p = load_params(params + row_index * kTokenSamplingWords);
  Row row{.logits = logits + row_index * vocab, .vocab = vocab, .temperature = p.temperature};

  // Argmax, ties to the lowest id: the largest (key, -id).
  uint64_t best = 0;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
    const uint64_t packed = static_cast<uint64_t>(order_key(canonical(row.logits[i]))) << 32 |
                            (0xffffffffu - static_cast<uint32_t>(i));
    best = best > packed ? best : packed;
  }
  best = block_reduce(best, scratch, MaxOp{});
  const uint32_t top_key = static_cast<uint32_t>(best >> 32);
  const int32_t argmax = static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(best));
  if (!(p.temperature > 0) || isinf(p.temperature)) {
    if (threadIdx.x == 0) out[row_index] = argmax;
    return;
  }
  row.top_scaled = key_value(top_key) / p.temperature;
  if (!isfinite(row.top_scaled)) {
    if (threadIdx.x == 0) out[row_index] = argmax;
    return;
  }
  const int vocab_bits = vocab <= 1 ? 0 : 64 - __clzll(static_cast<unsigned long long>(vocab - 1));
  row.fixed_scale = ldexp(1.0, 62 - vocab_bits);  // vocab x scale <= 2^62

  // top_k: the first k candidates (k-th boundary by count).
  Boundary top = kWholeRow;
  if (p.top_k > 0 && p.top_k < vocab) {
    auto whole_row = [](int32_t, uint32_t, float) { return true; };
    select_boundary<false>(row, whole_row, static_cast<uint64_t>(p.top_k), scratch, &top);
  }
  auto in_top = [top](int32_t id, uint32_t key, float) { return at_or_before(key, id, top); };
  const uint64_t total = set_mass(row, in_top, scratch);  // >= fixed_scale: the argmax weighs exactly 1

  // top_p: the smallest prefix whose mass reaches top_p x total (at least the top candidate).
  if (p.top_p < 1.0f) {
    const double wanted = ceil(static_cast<double>(p.top_p) * static_cast<double>(total));
    uint64_t target = wanted >= 1.0 ? static_cast<uint64_t>(fmin(wanted, 0x1p62)) : 1u;
    target = target < total ? target : total;
    select_boundary<true>(row, in_top, target, scratch, &top);
  }

  // min_p: pick_token's comparison probs[i] >= min_p x probs[0] with probs = mass / total; the top
  // candidate always stays.
  const bool use_min_p = p.min_p > 0.0f;
  const double total_probability = static_cast<double>(total) / row.fixed_scale;
  const double min_probability = static_cast<double>(p.min_p) * (1.0 / total_probability);
  auto in_kept = [&row, top, use_min_p, argmax, total_probability, min_probability](int32_t id, uint32_t key,
                                                                                    float logit) {
    if (!at_or_before(key, id, top)) return false;
    if (!use_min_p || id == argmax) return true;
    return probability(row, logit) / total_probability >= min_probability;
  };
  const uint64_t mass = set_mass(row, in_kept, scratch);

  // The draw: the first candidate whose running mass exceeds uniform x mass; for integer sums,
  // "> x" is ">= floor(x) + 1".
  const double uniform = p.uniform >= 0 ? p.uniform : 0.0;
  const double wanted = floor(uniform * static_cast<double>(mass)) + 1.0;
  Boundary pick{};
  bool found = false;
  if (wanted <= static_cast<double>(mass)) {
    const uint64_t target = static_cast<uint64_t>(wanted);
    found = select_boundary<true>(row, in_kept, target < mass ? target : mass, scratch, &pick);
  }
  if (!found) {  // uniform >= 1: like pick_token's walk, the last kept candidate
    uint64_t last = 0;  // the largest (-key, id) among the kept
    for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
      const float logit = canonical(row.logits[i]);
      const uint32_t key = order_key(logit);
      if (in_kept(static_cast<int32_t>(i), key, logit)) {
        const uint64_t packed = static_cast<uint64_t>(~key) << 32 | static_cast<uint32_t>(i);
        last = last > packed ? last : packed;
      }
    }
    last = block_reduce(last, scratch, MaxOp{});
    pick.id = static_cast<int32_t>(static_cast<uint32_t>(last));
  }
  if (threadIdx.x == 0) out[row_index] = pick.id;
}

}  // namespace

void launch_sample(const float* logits, int64_t n, int64_t vocab, const int32_t* params, int32_t* out,
                   cudaStream_t stream) {
  if (n == 0) return;
  sample_rows<<<static_cast<unsigned>(n), kThreads, 0, stream>>>(logits, vocab, params, out);
  check_launch("sample");
}

}  // namespace llm::cuda
