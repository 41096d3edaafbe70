#include "kv/block_pool.h"

#include "util/check.h"

namespace llm {

BlockPool::BlockPool(int32_t n_blocks) : ref_counts_(static_cast<size_t>(n_blocks), 0) {
  LLM_CHECK(n_blocks >= 0, "n_blocks ", n_blocks);
  free_list_.reserve(static_cast<size_t>(n_blocks));
  for (int32_t block = n_blocks - 1; block >= 0; --block) free_list_.push_back(block);
}

std::optional<int32_t> BlockPool::allocate() {
  if (free_list_.empty()) return std::nullopt;
  int32_t block = free_list_.back();
  free_list_.pop_back();
  ref_counts_[static_cast<size_t>(block)] = 1;
  return block;
}

void BlockPool::retain(int32_t block) {
  LLM_CHECK(block >= 0 && block < n_blocks() && ref_counts_[static_cast<size_t>(block)] > 0, "retain block ", block);
  ++ref_counts_[static_cast<size_t>(block)];
}

void BlockPool::release(int32_t block) {
  LLM_CHECK(block >= 0 && block < n_blocks() && ref_counts_[static_cast<size_t>(block)] > 0, "release block ", block,
            " which is not in use");
  if (--ref_counts_[static_cast<size_t>(block)] == 0) free_list_.push_back(block);
}

int32_t BlockPool::ref_count(int32_t block) const {
  LLM_CHECK(block >= 0 && block < n_blocks(), "block ", block, " of ", n_blocks());
  return ref_counts_[static_cast<size_t>(block)];
}

KvManager::KvManager(int32_t n_blocks, int32_t block_size) : pool_(n_blocks), block_size_(block_size) {
  LLM_CHECK(block_size > 0, "block_size ", block_size);
}

bool KvManager::reserve(SequenceBlocks& sequence, int32_t n_tokens) {
  LLM_CHECK(n_tokens >= 0, "n_tokens ", n_tokens);
  int32_t needed = blocks_for(n_tokens) - static_cast<int32_t>(sequence.blocks.size());
  if (needed > pool_.n_free()) return false;
  for (int32_t i = 0; i < needed; ++i) sequence.blocks.push_back(*pool_.allocate());
  if (n_tokens > sequence.n_tokens) sequence.n_tokens = n_tokens;
  return true;
}

void KvManager::release(SequenceBlocks& sequence) {
  for (int32_t block : sequence.blocks) pool_.release(block);
  sequence.blocks.clear();
  sequence.n_tokens = 0;
}

int32_t KvManager::slot(const SequenceBlocks& sequence, int32_t position) const {
  size_t index = static_cast<size_t>(position / block_size_);
  LLM_CHECK(position >= 0 && index < sequence.blocks.size(), "position ", position, " not reserved (",
            sequence.blocks.size(), " blocks of ", block_size_, ")");
  return sequence.blocks[index] * block_size_ + position % block_size_;
}

}  // namespace llm
