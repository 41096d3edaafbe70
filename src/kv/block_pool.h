// Paged KV bookkeeping: a pool of fixed-size blocks handed out by id, with reference counts so
// that a cached prefix block can be shared by several sequences. Deals in ids only; the engine
// turns block tables into the views the kernels read. "No free block" is a normal answer (the
// caller waits or preempts), never an error.
//
// Prefix caching: a full block whose tokens (and all tokens before it) are known can be
// registered under a hash of that prefix. When its last user releases it, it keeps its contents
// and stays findable ("cached, evictable") until the pool needs the space; allocate() takes never-
// cached free blocks first, then evicts the least recently released cached block.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace llm {

class BlockPool {
 public:
  explicit BlockPool(int32_t n_blocks);

  int32_t n_blocks() const { return static_cast<int32_t>(ref_counts_.size()); }
  // Blocks allocate() can hand out: plain free ones plus cached ones nobody uses.
  int32_t n_free() const { return static_cast<int32_t>(free_list_.size() + evictable_.size()); }
  int32_t n_cached_free() const { return static_cast<int32_t>(evictable_.size()); }

  // A block with ref count 1, or nullopt when none is left. Never-cached blocks first, lowest ids
  // first (predictable block tables in tests); then the least recently released cached block,
  // whose cache entry is dropped.
  std::optional<int32_t> allocate();
  void retain(int32_t block);   // ref count + 1; a cached block with count 0 is taken back into use
  void release(int32_t block);  // ref count - 1; at 0 the block is free (or cached-evictable)
  int32_t ref_count(int32_t block) const;

  // Prefix cache. `hash` identifies the whole token prefix up to the end of the block; `tokens`
  // are the block's own tokens, compared on lookup: only a 64-bit collision between two different
  // prefixes that end in the same block of tokens could alias.
  void register_cached(int32_t block, uint64_t hash, std::span<const int32_t> tokens);
  std::optional<int32_t> find_cached(uint64_t hash, std::span<const int32_t> tokens) const;

 private:
  struct CacheEntry {
    uint64_t hash = 0;
    std::vector<int32_t> tokens;
    bool registered = false;
    std::list<int32_t>::iterator evictable_position;
    bool evictable = false;
  };
  void forget(int32_t block);

  std::vector<int32_t> ref_counts_;  // [n_blocks]
  std::vector<int32_t> free_list_;   // a stack: back() is the next block handed out
  std::vector<CacheEntry> cache_;    // [n_blocks]
  std::list<int32_t> evictable_;     // cached blocks with count 0, least recently released first
  std::unordered_multimap<uint64_t, int32_t> by_hash_;
};

// The blocks of one sequence, in position order: position p lives in block blocks[p / block_size].
struct SequenceBlocks {
  std::vector<int32_t> blocks;
  int32_t n_tokens = 0;  // positions [0, n_tokens) have KV written (or are about to, this step)
};

class KvManager {
 public:
  KvManager(int32_t n_blocks, int32_t block_size);

  int32_t block_size() const { return block_size_; }
  const BlockPool& pool() const { return pool_; }
  BlockPool& pool() { return pool_; }

  // Blocks needed to hold n_tokens.
  int32_t blocks_for(int32_t n_tokens) const { return (n_tokens + block_size_ - 1) / block_size_; }

  // Grows `sequence` to hold n_tokens in total. All or nothing: false (and no change) when the
  // pool has too few free blocks.
  bool reserve(SequenceBlocks& sequence, int32_t n_tokens);
  // Returns every block of `sequence` to the pool.
  void release(SequenceBlocks& sequence);

  // The cache slot (block * block_size + offset) of `position`; it must be reserved.
  int32_t slot(const SequenceBlocks& sequence, int32_t position) const;

  // Prefix caching over whole blocks of `tokens`:
  // attach_cached_prefix gives an empty `sequence` the longest run of cached blocks that matches
  // the start of `tokens`, at most max_blocks of them, and returns how many tokens they cover.
  int32_t attach_cached_prefix(SequenceBlocks& sequence, std::span<const int32_t> tokens, int32_t max_blocks);
  // register_full_blocks publishes the sequence's blocks that are full and computed
  // (positions < n_computed) so later sequences can share them.
  void register_full_blocks(const SequenceBlocks& sequence, std::span<const int32_t> tokens, int32_t n_computed);

 private:
  // Hash of the prefix ending with block `index` of `tokens`, chained from the previous block's.
  uint64_t block_hash(uint64_t previous, std::span<const int32_t> block_tokens) const;

  BlockPool pool_;
  int32_t block_size_;
};

}  // namespace llm
