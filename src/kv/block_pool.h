// Paged KV bookkeeping: a pool of fixed-size blocks handed out by id, with reference counts
// (so later a cached prefix block can be shared by several sequences). Deals in ids only; the
// engine turns block tables into the views the kernels read. "No free block" is a normal
// answer (the caller waits or preempts), never an error.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace llm {

class BlockPool {
 public:
  explicit BlockPool(int32_t n_blocks);

  int32_t n_blocks() const { return static_cast<int32_t>(ref_counts_.size()); }
  int32_t n_free() const { return static_cast<int32_t>(free_list_.size()); }

  // A free block with ref count 1, or nullopt when none is left. Lowest ids first, so block
  // tables are predictable in tests.
  std::optional<int32_t> allocate();
  void retain(int32_t block);   // ref count + 1 (block must be in use)
  void release(int32_t block);  // ref count - 1; the block is free again at 0
  int32_t ref_count(int32_t block) const;

 private:
  std::vector<int32_t> ref_counts_;  // [n_blocks]
  std::vector<int32_t> free_list_;   // a stack: back() is the next block handed out
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

  // Blocks needed to hold n_tokens.
  int32_t blocks_for(int32_t n_tokens) const { return (n_tokens + block_size_ - 1) / block_size_; }

  // Grows `sequence` to hold n_tokens in total. All or nothing: false (and no change) when the
  // pool has too few free blocks.
  bool reserve(SequenceBlocks& sequence, int32_t n_tokens);
  // Returns every block of `sequence` to the pool.
  void release(SequenceBlocks& sequence);

  // The cache slot (block * block_size + offset) of `position`; it must be reserved.
  int32_t slot(const SequenceBlocks& sequence, int32_t position) const;

 private:
  BlockPool pool_;
  int32_t block_size_;
};

}  // namespace llm
