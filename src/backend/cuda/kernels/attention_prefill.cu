// Paged attention for prefill and chunked prefill on tensor cores, flash-attention-2 style: one
// block per (64-row query tile, kHeads query heads of one GQA group), 4 warps per head, each
// warp owning 16 query rows of one head for the whole key loop. With kHeads = 2 (even group
// sizes) the two heads share every K/V tile, halving the K/V traffic from L2 per product.
// Everything per row stays in registers: the Q fragments, the scores S = Q K^T (mma.sync
// m16n8k16, f32 accumulation), the online-softmax state and the output accumulator O.
// P never goes through shared memory: the accumulator layout of S is the A-operand layout of the
// P V product (see "C -> A" below). K/V tiles of 64 keys are gathered through the block table
// into double-buffered shared memory (16-byte cp.async for f16/bf16 caches; f32 caches are
// converted to f16 while staging), so the next tile's loads overlap this tile's math.
//
// Operands are the cache's 16-bit type: bf16 cache -> bf16 mma, f16 and f32 caches -> f16 mma.
// Q is scaled by scale * log2(e) before rounding, so the scores come out in the log2 domain and
// the softmax uses exp2 (ex2.approx). The softmax sum l adds the 16-bit-rounded P that the
// P V product uses, so O / l is an exact weighted mean of V under slightly perturbed weights.
// Shared memory (dynamic): 69,760 bytes at head_dim 128, 36,992 at 64 (SharedLayout).
//
// A tile whose 64 rows do not all belong to one sequence is left to the split kernel
// (attention_split.cu skips rows of uniform tiles when told to), so both agree on the split.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels/attention_common.cuh"
#include "backend/cuda/kernels/dtype_load.cuh"
#include "backend/cuda/kernels/kernels.h"

namespace llm::cuda {
namespace {

constexpr int kRows = kPrefillTileRows;  // query rows per block
constexpr int kRowWarps = kRows / 16;    // warps per head: each owns 16 rows (the M of one mma)
constexpr int kKeys = 64;                // keys per K/V tile
constexpr int kStages = 2;               // K/V tiles in flight (this one and the next)
constexpr int kPad = 8;                  // 16 bytes of padding per shared row: see SharedLayout
constexpr float kLog2e = 1.4426950408889634f;
static_assert(kRows % 16 == 0, "a warp owns 16 query rows");

// ---------------------------------------------------------------------------------------------
// mma.sync m16n8k16 fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16"), for lane
// L of a warp, with g = L / 4 (the "group", 0..7) and t = L % 4 (the thread in the group, 0..3).
// Each 32-bit register holds two 16-bit elements; the lower half has the smaller column (A, C)
// or k (B) index.
//   A (16 x 16, row-major, M x K):  a0 = A[g][2t, 2t+1]        a1 = A[g+8][2t, 2t+1]
//                                   a2 = A[g][2t+8, 2t+9]      a3 = A[g+8][2t+8, 2t+9]
//   B (16 x 8, "col", K x N):       b0 = B[2t, 2t+1][g]        b1 = B[2t+8, 2t+9][g]
//   C, D (16 x 8 f32, M x N):       c0, c1 = C[g][2t, 2t+1]    c2, c3 = C[g+8][2t, 2t+1]
// So a lane holds rows g and g+8 of every A and C fragment: the per-row softmax state (m, l)
// and the per-row O rescale live in that lane's registers, shared by the 4 lanes of group g
// (row reductions are two xor-shuffles, over lane bits 0 and 1).
//
// ldmatrix (.x4): lanes 8i..8i+7 give the addresses of the 8 rows (16 bytes = 8 elements each)
// of matrix i; register i of lane L then holds M_i[L / 4][2 (L % 4), +1], i.e. g's row and the
// element pair 2t, 2t+1: exactly b0/b1 of a B operand whose k runs along the stored row. With
// .trans lane L gets M_i[2 (L % 4), +1][L / 4] instead: the B operand for a matrix whose k runs
// down the stored rows (V: k = key = stored row, n = head dim = column).
// ---------------------------------------------------------------------------------------------

template <typename Operand>
__device__ __forceinline__ uint32_t pack2(float low, float high);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float low, float high) {
  const __half2 pair = __floats2half2_rn(low, high);  // .x (low) = low
  return *reinterpret_cast<const uint32_t*>(&pair);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float low, float high) {
  const __nv_bfloat162 pair = __floats2bfloat162_rn(low, high);
  return *reinterpret_cast<const uint32_t*>(&pair);
}

// The two floats of pack2's result, back again (the rounded values the mma sees).
template <typename Operand>
__device__ __forceinline__ float2 unpack2(uint32_t bits);
template <>
__device__ __forceinline__ float2 unpack2<__half>(uint32_t bits) {
  return __half22float2(*reinterpret_cast<const __half2*>(&bits));
}
template <>
__device__ __forceinline__ float2 unpack2<__nv_bfloat16>(uint32_t bits) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&bits));
}

// 2^x, flushing denormal results to 0 (p that small adds nothing next to the row max's 1);
// 2^-inf = 0.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// d += a b for one 16x8x16 tile; a, b 16-bit Operand pairs, d f32.
template <typename Operand>
__device__ __forceinline__ void mma_16x8x16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<Operand, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t shared_address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t shared_address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address));
}

// 16 bytes global -> shared, asynchronously; with valid false nothing is read (src-size 0) and
// the 16 bytes are zero-filled.
__device__ __forceinline__ void cp_async_16(uint32_t shared_address, const void* global, bool valid) {
  const int source_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address), "l"(global),
               "r"(source_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Wait until at most `kPending` of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// Shared memory: K and V tiles [kStages][kKeys][kLd] of the 16-bit Operand, then one byte per
// key per stage saying whether its block id was usable. A row is padded by 16 bytes (kPad
// elements): the 8 rows one ldmatrix phase reads are (D + 8) * 2 bytes apart, which is 4 banks
// mod 32, so they cover all 32 banks once (D = 64: 144 B, D = 128: 272 B).
template <int D>
struct SharedLayout {
  static constexpr int kLd = D + kPad;                     // elements per stored key row
  static constexpr int kTileElements = kKeys * kLd;        // one K (or V) tile
  static constexpr size_t kStagesBytes = 2 * static_cast<size_t>(kStages) * kTileElements;  // 2-byte elements
  static constexpr size_t kK = 0;                          // byte offsets: K tiles [kStages][kKeys][kLd]
  static constexpr size_t kV = kK + kStagesBytes;          // V tiles [kStages][kKeys][kLd]
  static constexpr size_t kKeyOk = kV + kStagesBytes;      // [kStages][kKeys] u8
  static constexpr size_t kBytes = kKeyOk + kStages * kKeys;
};

// n / block_size and n % block_size for 0 <= n < 2^31 without a division instruction (the
// loader needs one per key): q = (umulhi(n, magic) + n) >> shift with shift = ceil(log2 d) and
// magic = floor(2^32 (2^shift - d) / d) + 1 (round-up method; exact for n, d < 2^31).
struct BlockDivisor {
  uint32_t magic;
  int shift;
  int divisor;

  static BlockDivisor make(int64_t d) {
    int shift = 0;
    while ((int64_t{1} << shift) < d) ++shift;
    const uint64_t magic = ((uint64_t{1} << 32) * ((uint64_t{1} << shift) - static_cast<uint64_t>(d))) /
                               static_cast<uint64_t>(d) + 1;
    return BlockDivisor{static_cast<uint32_t>(magic), shift, static_cast<int>(d)};
  }
  __device__ __forceinline__ int quotient(int n) const {
    return static_cast<int>((__umulhi(static_cast<uint32_t>(n), magic) + static_cast<uint32_t>(n)) >> shift);
  }
};

// Gathers the K and V rows of keys key0 .. key0 + kKeys - 1 into one stage. Keys at or past
// n_keys, or whose block id is out of range, become zero rows; key_ok[key] is 0 only for the
// latter (keys past n_keys are masked by causality anyway). Returns whether this thread met a
// bad block id, so the block can take the masked path for the tile.
template <typename T, typename Operand, int D, int kThreads>
__device__ __forceinline__ bool load_kv_tile(const PagedAttentionArgs& a, const BlockDivisor& block_divisor,
                                             const int32_t* table, int64_t kv_head, int key0, int n_keys,
                                             Operand* k_stage, Operand* v_stage, uint8_t* key_ok) {
  constexpr int kChunksPerRow = D / 8;  // 16-byte pieces (8 elements) of a key's head row
  constexpr int kKeysPerPass = kThreads / kChunksPerRow;
  static_assert(kThreads % kChunksPerRow == 0 && kKeys % kKeysPerPass == 0, "loader mapping");
  using L = SharedLayout<D>;
  const int chunk = threadIdx.x % kChunksPerRow;
  const T* k_cache = static_cast<const T*>(a.k_cache);
  const T* v_cache = static_cast<const T*>(a.v_cache);
  bool met_bad_block = false;
#pragma unroll
  for (int pass = 0; pass < kKeys / kKeysPerPass; ++pass) {
    const int key = threadIdx.x / kChunksPerRow + pass * kKeysPerPass;
    const int position = key0 + key;
    bool needed = position < n_keys, usable = false;
    int64_t offset = 0;  // element offset of this key's head row + chunk in the cache
    if (needed) {
      const int block_index = block_divisor.quotient(position);
      const int in_block = position - block_index * block_divisor.divisor;
      const int64_t block = block_index < a.max_blocks_per_seq ? table[block_index] : -1;
      usable = block >= 0 && block < a.n_blocks;
      offset = ((block * a.block_size + in_block) * a.n_kv_heads + kv_head) * D + chunk * 8;
    }
    met_bad_block |= needed && !usable;
    if (chunk == 0) key_ok[key] = needed && !usable ? 0 : 1;
    Operand* k_to = k_stage + key * L::kLd + chunk * 8;
    Operand* v_to = v_stage + key * L::kLd + chunk * 8;
    if constexpr (std::is_same_v<T, Operand>) {
      // Zero-filled when unusable; the source address must still be a valid one.
      cp_async_16(static_cast<uint32_t>(__cvta_generic_to_shared(k_to)), usable ? k_cache + offset : k_cache, usable);
      cp_async_16(static_cast<uint32_t>(__cvta_generic_to_shared(v_to)), usable ? v_cache + offset : v_cache, usable);
    } else {
      static_assert(std::is_same_v<T, float> && std::is_same_v<Operand, __half>, "f32 caches stage as f16");
      float4 k_low = make_float4(0.f, 0.f, 0.f, 0.f), k_high = k_low, v_low = k_low, v_high = k_low;
      if (usable) {
        k_low = *reinterpret_cast<const float4*>(k_cache + offset);
        k_high = *reinterpret_cast<const float4*>(k_cache + offset + 4);
        v_low = *reinterpret_cast<const float4*>(v_cache + offset);
        v_high = *reinterpret_cast<const float4*>(v_cache + offset + 4);
      }
      *reinterpret_cast<uint4*>(k_to) = make_uint4(pack2<__half>(k_low.x, k_low.y), pack2<__half>(k_low.z, k_low.w),
                                                   pack2<__half>(k_high.x, k_high.y),
                                                   pack2<__half>(k_high.z, k_high.w));
      *reinterpret_cast<uint4*>(v_to) = make_uint4(pack2<__half>(v_low.x, v_low.y), pack2<__half>(v_low.z, v_low.w),
                                                   pack2<__half>(v_high.x, v_high.y),
                                                   pack2<__half>(v_high.z, v_high.w));
    }
  }
  return met_bad_block;
}

// grid (n_heads / kHeads, n_tiles): blockIdx.x picks the query heads, so the blocks of one GQA
// group (which read the same K/V) run side by side and share the tiles through L2; blockIdx.y
// walks the row tiles from the last (longest context, most work) to the first, so the long
// blocks start early. Registers (head_dim 128: ~200 a thread) allow two blocks of 4 warps or
// one of 8 per SM; head_dim 64 fits in 128 a thread, so two blocks of 8.
template <typename T, int D, int kHeads>
__global__ void __launch_bounds__(kHeads * kRowWarps * 32, D == 64 ? 2 : 2 / kHeads)
    attention_prefill_kernel(PagedAttentionArgs a, BlockDivisor block_divisor) {
  constexpr int kWarps = kHeads * kRowWarps;
  constexpr int kThreads = kWarps * 32;
  using Operand = std::conditional_t<std::is_same_v<T, __nv_bfloat16>, __nv_bfloat16, __half>;
  using L = SharedLayout<D>;
  constexpr int kDimSteps = D / 16;   // k-steps of S = Q K^T (over the head dim)
  constexpr int kKeySteps = kKeys / 16;  // k-steps of O += P V (over the keys)
  constexpr int kKeyTiles = kKeys / 8;   // n-tiles of S (8 keys each)
  constexpr int kDimTiles = D / 8;       // n-tiles of O (8 head dims each)

  extern __shared__ __align__(128) unsigned char smem[];
  Operand* k_tiles = reinterpret_cast<Operand*>(smem + L::kK);  // [kStages][kKeys][kLd]
  Operand* v_tiles = reinterpret_cast<Operand*>(smem + L::kV);  // [kStages][kKeys][kLd]
  uint8_t* key_ok = smem + L::kKeyOk;                           // [kStages][kKeys]
  __shared__ int warp_max_positions[kWarps];

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int row_warp = warp % kRowWarps;  // which 16 rows of the tile
  const int g = lane / 4, t = lane % 4;   // fragment group and thread in group (see the top)
  const int64_t head = static_cast<int64_t>(blockIdx.x) * kHeads + warp / kRowWarps;
  const int64_t row0 = (static_cast<int64_t>(gridDim.y) - 1 - blockIdx.y) * kRows;
  if (!tile_is_uniform(a, row0)) return;  // the split kernel serves this tile (whole block leaves)
  // The kHeads heads of a block lie in one GQA group (kHeads = 2 only for even group sizes).
  const int64_t kv_head = static_cast<int64_t>(blockIdx.x) * kHeads / (a.n_heads / a.n_kv_heads);
  const int64_t rows_here = a.n - row0 < kRows ? a.n - row0 : kRows;
  const int64_t sequence = sequence_of_row(a.query_start, a.n_seqs, row0);
  const int32_t* table = a.block_tables + sequence * a.max_blocks_per_seq;

  // This lane's two rows (tile rows 16 row_warp + g and + 8); rows past the batch get position
  // -1, which masks every key.
  const int local_rows[2] = {row_warp * 16 + g, row_warp * 16 + g + 8};
  int row_positions[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) row_positions[r] = local_rows[r] < rows_here ? a.positions[row0 + local_rows[r]] : -1;
  // Warp-wide range of positions: tiles past the max are skipped, tiles wholly at or below the
  // min need no mask. The block loads keys up to the largest position of its 64 rows.
  const int warp_min_position = __reduce_min_sync(0xffffffffu, min(row_positions[0], row_positions[1]));
  const int warp_max_position = __reduce_max_sync(0xffffffffu, max(row_positions[0], row_positions[1]));
  if (lane == 0) warp_max_positions[warp] = warp_max_position;

  // Q fragments for all of the head dim, pre-scaled into the log2 domain. q_fragments[s] is the
  // A operand of k-step s (dims 16 s .. 16 s + 15): a0/a2 row g, a1/a3 row g + 8 (layout above).
  const float q_scale = a.scale * kLog2e;
  uint32_t q_fragments[kDimSteps][4];
#pragma unroll
  for (int step = 0; step < kDimSteps; ++step) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {      // columns 2t (a0, a1) and 2t + 8 (a2, a3)
#pragma unroll
      for (int r = 0; r < 2; ++r) {              // rows g (a0, a2) and g + 8 (a1, a3)
        float2 pair = make_float2(0.f, 0.f);
        if (local_rows[r] < rows_here) {
          const float* q_row = a.q + ((row0 + local_rows[r]) * a.n_heads + head) * D;  // [D]
          pair = *reinterpret_cast<const float2*>(q_row + step * 16 + half * 8 + 2 * t);
        }
        q_fragments[step][half * 2 + r] = pack2<Operand>(pair.x * q_scale, pair.y * q_scale);
      }
    }
  }

  // O accumulator: o[j] is the C fragment of head dims 8 j .. 8 j + 7 (c0, c1 row g; c2, c3 row
  // g + 8). m: running max per row (log2 domain); l: this lane's part of the row sum (its own
  // columns only; the 4 lanes of a group are added up at the end, since rescales are per row).
  float o[kDimTiles][4];
#pragma unroll
  for (int j = 0; j < kDimTiles; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

  __syncthreads();  // warp_max_positions
  int block_max_position = warp_max_positions[0];
#pragma unroll
  for (int w = 1; w < kWarps; ++w) block_max_position = max(block_max_position, warp_max_positions[w]);
  const int n_keys = block_max_position + 1;  // >= 1: row 0 of the tile is always in the batch
  const int n_tiles = (n_keys + kKeys - 1) / kKeys;

  // Per-lane ldmatrix row addresses (bytes, shared window), stage 0, key/dim step 0; the loop
  // adds the stage, step and pair offsets. Lane L addresses row L % 8 of matrix L / 8:
  //  K (for S): matrix i covers keys 8 (i / 2) + 0..7 and dims 8 (i % 2) + 0..7 of a 16-key,
  //   16-dim block, so registers 0, 1 = b0, b1 of the first 8 keys, 2, 3 = of the next 8.
  //  V (for O, .trans): matrix i covers keys 8 (i % 2) + 0..7 and dims 8 (i / 2) + 0..7, so
  //   registers 0, 1 = b0, b1 (keys 0..7, 8..15) of the first 8 dims, 2, 3 = of the next 8.
  const int matrix = lane / 8, matrix_row = lane % 8;
  const uint32_t k_base = static_cast<uint32_t>(__cvta_generic_to_shared(k_tiles)) +
                          2u * ((8 * (matrix / 2) + matrix_row) * L::kLd + 8 * (matrix % 2));
  const uint32_t v_base = static_cast<uint32_t>(__cvta_generic_to_shared(v_tiles)) +
                          2u * ((8 * (matrix % 2) + matrix_row) * L::kLd + 8 * (matrix / 2));
  constexpr uint32_t kStageBytes = 2u * L::kTileElements;

  bool bad_block_current = load_kv_tile<T, Operand, D, kThreads>(a, block_divisor, table, kv_head, 0, n_keys, k_tiles,
                                                                    v_tiles, key_ok);
  cp_async_commit();

  for (int tile = 0; tile < n_tiles; ++tile) {
    const int stage = tile % kStages;
    const int key0 = tile * kKeys;
    // Start the next tile into the other stage: the barrier at the end of the previous
    // iteration guarantees every warp is done reading it.
    bool bad_block_next = false;
    if (tile + 1 < n_tiles) {
      const int next = (tile + 1) % kStages;
      bad_block_next = load_kv_tile<T, Operand, D, kThreads>(a, block_divisor, table, kv_head, key0 + kKeys, n_keys,
                                                             k_tiles + next * L::kTileElements,
                                                             v_tiles + next * L::kTileElements, key_ok + next * kKeys);
    }
    cp_async_commit();  // possibly empty: keeps "all but the newest group" meaning this tile
    cp_async_wait<1>();
    const bool tile_has_bad_block = __syncthreads_or(bad_block_current);  // also: this stage visible to all
    bad_block_current = bad_block_next;

    if (key0 <= warp_max_position) {  // else every key of the tile is masked for this warp's rows
      // S [16 rows, 64 keys] = Q K^T: s[j] is the C fragment of keys key0 + 8 j .. + 7.
      float s[kKeyTiles][4];
#pragma unroll
      for (int j = 0; j < kKeyTiles; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
      for (int step = 0; step < kDimSteps; ++step) {
#pragma unroll
        for (int pair = 0; pair < kKeyTiles / 2; ++pair) {  // keys 16 pair .. 16 pair + 15
          uint32_t b[4];
          ldmatrix_x4(b, k_base + stage * kStageBytes + 2u * (16 * pair * L::kLd + 16 * step));
          mma_16x8x16<Operand>(s[2 * pair], q_fragments[step], b[0], b[1]);
          mma_16x8x16<Operand>(s[2 * pair + 1], q_fragments[step], b[2], b[3]);
        }
      }

      // Mask keys past a row's position (only tiles reaching past the warp's smallest
      // position) and keys of bad blocks. s[j][e] is row g (e < 2) or g + 8 (e >= 2), key
      // key0 + 8 j + 2 t + e % 2.
      if (key0 + kKeys - 1 > warp_min_position || tile_has_bad_block) {
        const uint8_t* ok = key_ok + stage * kKeys;
#pragma unroll
        for (int j = 0; j < kKeyTiles; ++j) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int key = 8 * j + 2 * t + e % 2;
            if (key0 + key > row_positions[e / 2] || (tile_has_bad_block && !ok[key])) s[j][e] = -INFINITY;
          }
        }
      }

      // Online softmax per row r (g, g + 8): new max over the 4 lanes of the group, rescale
      // of l and O by 2^(m_old - m_new), P = 2^(s - m_new) rounded to the operand type.
      float row_scale[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < kKeyTiles; ++j) tile_max = fmaxf(tile_max, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
        const float m_new = fmaxf(m[r], tile_max);
        // A row with no unmasked key so far keeps m = -inf; subtracting 0 then gives p = 0 and
        // no NaN from (-inf) - (-inf).
        const float m_used = m_new == -INFINITY ? 0.f : m_new;
        row_scale[r] = exp2_approx(m[r] - m_used);  // m[r] = -inf: 0 (l and O are still 0)
        m[r] = m_new;
        l[r] *= row_scale[r];
#pragma unroll
        for (int j = 0; j < kKeyTiles; ++j) {
          s[j][2 * r] = exp2_approx(s[j][2 * r] - m_used);
          s[j][2 * r + 1] = exp2_approx(s[j][2 * r + 1] - m_used);
        }
      }
#pragma unroll
      for (int j = 0; j < kDimTiles; ++j) {
        o[j][0] *= row_scale[0];
        o[j][1] *= row_scale[0];
        o[j][2] *= row_scale[1];
        o[j][3] *= row_scale[1];
      }

      // C -> A: the A operand of key step k (keys 16 k .. 16 k + 15) is S tiles 2 k (keys
      // 16 k + 2t, +1: a0 row g, a1 row g + 8) and 2 k + 1 (keys 16 k + 8 + 2t, +1: a2, a3),
      // so the lane already holds its own A fragment of P; only the rounding remains.
#pragma unroll
      for (int step = 0; step < kKeySteps; ++step) {
        uint32_t p[4];
        p[0] = pack2<Operand>(s[2 * step][0], s[2 * step][1]);
        p[1] = pack2<Operand>(s[2 * step][2], s[2 * step][3]);
        p[2] = pack2<Operand>(s[2 * step + 1][0], s[2 * step + 1][1]);
        p[3] = pack2<Operand>(s[2 * step + 1][2], s[2 * step + 1][3]);
        const float2 p_row_g_low = unpack2<Operand>(p[0]), p_row_g_high = unpack2<Operand>(p[2]);
        const float2 p_row_g8_low = unpack2<Operand>(p[1]), p_row_g8_high = unpack2<Operand>(p[3]);
        l[0] += (p_row_g_low.x + p_row_g_low.y) + (p_row_g_high.x + p_row_g_high.y);
        l[1] += (p_row_g8_low.x + p_row_g8_low.y) + (p_row_g8_high.x + p_row_g8_high.y);
        // O [16, D] += P [16, keys of this step] V [keys of this step, D], 16 dims per ldmatrix.
#pragma unroll
        for (int pair = 0; pair < kDimTiles / 2; ++pair) {
          uint32_t b[4];
          ldmatrix_x4_trans(b, v_base + stage * kStageBytes + 2u * (16 * step * L::kLd + 16 * pair));
          mma_16x8x16<Operand>(o[2 * pair], p, b[0], b[1]);
          mma_16x8x16<Operand>(o[2 * pair + 1], p, b[2], b[3]);
        }
      }
    }
    __syncthreads();  // every warp is done with this stage before it is refilled
  }
  cp_async_wait<0>();  // nothing real is pending (the last group is empty), but leave none behind

  // out = O / l. l: add the 4 lanes of the group. A row whose keys were all unusable has l = 0:
  // NaN, as in the split kernel.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float row_sum = l[r];
    row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 1);
    row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 2);
    if (local_rows[r] >= rows_here) continue;
    const float inverse = row_sum > 0.f ? 1.f / row_sum : __int_as_float(0x7fc00000);
    float* out_row = a.out + ((row0 + local_rows[r]) * a.n_heads + head) * D;  // [D]
#pragma unroll
    for (int j = 0; j < kDimTiles; ++j) {
      *reinterpret_cast<float2*>(out_row + 8 * j + 2 * t) =
          make_float2(o[j][2 * r] * inverse, o[j][2 * r + 1] * inverse);
    }
  }
}

template <typename T, int D, int kHeads>
void launch_heads(const PagedAttentionArgs& a, cudaStream_t stream) {
  const size_t bytes = SharedLayout<D>::kBytes;
  check_cuda(cudaFuncSetAttribute(attention_prefill_kernel<T, D, kHeads>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
             "cudaFuncSetAttribute(attention_prefill)");
  const int64_t n_tiles = (a.n + kRows - 1) / kRows;
  LLM_CHECK(n_tiles <= 65535, "paged attention prefill: row tiles ", n_tiles, ", at most 65535");
  const dim3 grid(static_cast<unsigned>(a.n_heads / kHeads), static_cast<unsigned>(n_tiles));
  attention_prefill_kernel<T, D, kHeads>
      <<<grid, kHeads * kRowWarps * 32, bytes, stream>>>(a, BlockDivisor::make(a.block_size));
}

// Two heads per block when the GQA group has an even size (they share the K/V tiles).
template <typename T, int D>
void launch_typed(const PagedAttentionArgs& a, cudaStream_t stream) {
  if ((a.n_heads / a.n_kv_heads) % 2 == 0) {
    launch_heads<T, D, 2>(a, stream);
  } else {
    launch_heads<T, D, 1>(a, stream);
  }
}

template <int D>
void launch_dim(const PagedAttentionArgs& a, cudaStream_t stream) {
  with_float_type(a.cache_dtype, "paged attention", [&]<typename T>(T) { launch_typed<T, D>(a, stream); });
}

bool aligned(const void* pointer, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(pointer) % bytes == 0; }

}  // namespace

bool prefill_attention_supported(const PagedAttentionArgs& a) {
  // 16-byte cache rows (cp.async, float4) and 8-byte q/out pairs need aligned bases; row
  // strides are multiples of the head dim, so the base decides.
  // Positions and block sizes are i32 in the loader.
  return a.n >= kRows && (a.head_dim == 64 || a.head_dim == 128) && (a.n + kRows - 1) / kRows <= 65535 &&
         a.block_size >= 1 && a.block_size < (int64_t{1} << 31) && aligned(a.k_cache, 16) &&
         aligned(a.v_cache, 16) && aligned(a.q, 8) && aligned(a.out, 8);
}

void launch_paged_attention_prefill(const PagedAttentionArgs& a, cudaStream_t stream) {
  if (a.head_dim == 64) {
    launch_dim<64>(a, stream);
  } else {
    launch_dim<128>(a, stream);
  }
  check_launch("paged_attention_prefill");
}

}  // namespace llm::cuda
