#include "kv/block_pool.h"

#include <algorithm>

#include "util/check.h"

namespace llm {

BlockPool::BlockPool(int32_t n_blocks)
    : ref_counts_(static_cast<size_t>(n_blocks), 0), cache_(static_cast<size_t>(n_blocks)) {
  LLM_CHECK(n_blocks >= 0, "n_blocks ", n_blocks);
  free_list_.reserve(static_cast<size_t>(n_blocks));
  for (int32_t block = n_blocks - 1; block >= 0; --block) free_list_.push_back(block);
}

std::optional<int32_t> BlockPool::allocate() {
  int32_t block;
  if (!free_list_.empty()) {
    block = free_list_.back();
    free_list_.pop_back();
  } else if (!evictable_.empty()) {
    block = evictable_.front();
    forget(block);
  } else {
    return std::nullopt;
  }
  ref_counts_[static_cast<size_t>(block)] = 1;
  return block;
}

void BlockPool::retain(int32_t block) {
  LLM_CHECK(block >= 0 && block < n_blocks(), "retain block ", block);
  CacheEntry& entry = cache_[static_cast<size_t>(block)];
  if (ref_counts_[static_cast<size_t>(block)] == 0) {
    LLM_CHECK(entry.evictable, "retain of free block ", block, " that is not cached");
    evictable_.erase(entry.evictable_position);
    entry.evictable = false;
  }
  ++ref_counts_[static_cast<size_t>(block)];
}

void BlockPool::release(int32_t block) {
  LLM_CHECK(block >= 0 && block < n_blocks() && ref_counts_[static_cast<size_t>(block)] > 0, "release block ", block,
            " which is not in use");
  if (--ref_counts_[static_cast<size_t>(block)] != 0) return;
  CacheEntry& entry = cache_[static_cast<size_t>(block)];
  if (entry.registered) {
    entry.evictable_position = evictable_.insert(evictable_.end(), block);
    entry.evictable = true;
  } else {
    free_list_.push_back(block);
  }
}

int32_t BlockPool::ref_count(int32_t block) const {
  LLM_CHECK(block >= 0 && block < n_blocks(), "block ", block, " of ", n_blocks());
  return ref_counts_[static_cast<size_t>(block)];
}

void BlockPool::register_cached(int32_t block, uint64_t hash, std::span<const int32_t> tokens) {
  LLM_CHECK(block >= 0 && block < n_blocks() && ref_counts_[static_cast<size_t>(block)] > 0, "register block ", block);
  CacheEntry& entry = cache_[static_cast<size_t>(block)];
  if (entry.registered) return;  // already published (shared prefix)
  if (find_cached(hash, tokens)) return;  // another block holds the same prefix; keep one
  entry.hash = hash;
  entry.tokens.assign(tokens.begin(), tokens.end());
  entry.registered = true;
  by_hash_.emplace(hash, block);
}

std::optional<int32_t> BlockPool::find_cached(uint64_t hash, std::span<const int32_t> tokens) const {
  auto [begin, end] = by_hash_.equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    const CacheEntry& entry = cache_[static_cast<size_t>(it->second)];
    if (std::equal(entry.tokens.begin(), entry.tokens.end(), tokens.begin(), tokens.end())) return it->second;
  }
  return std::nullopt;
}

void BlockPool::forget(int32_t block) {
  CacheEntry& entry = cache_[static_cast<size_t>(block)];
  if (entry.evictable) {
    evictable_.erase(entry.evictable_position);
    entry.evictable = false;
  }
  auto [begin, end] = by_hash_.equal_range(entry.hash);
  for (auto it = begin; it != end; ++it) {
    if (it->second == block) {
      by_hash_.erase(it);
      break;
    }
  }
  entry = CacheEntry{};
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
  // Release the last blocks first so that, among a sequence's cached blocks, the deepest (least
  // shareable) are evicted before the shared beginning of the prefix.
  for (auto it = sequence.blocks.rbegin(); it != sequence.blocks.rend(); ++it) pool_.release(*it);
  sequence.blocks.clear();
  sequence.n_tokens = 0;
}

int32_t KvManager::slot(const SequenceBlocks& sequence, int32_t position) const {
  size_t index = static_cast<size_t>(position / block_size_);
  LLM_CHECK(position >= 0 && index < sequence.blocks.size(), "position ", position, " not reserved (",
            sequence.blocks.size(), " blocks of ", block_size_, ")");
  return sequence.blocks[index] * block_size_ + position % block_size_;
}

uint64_t KvManager::block_hash(uint64_t previous, std::span<const int32_t> block_tokens) const {
  // FNV-1a over the previous hash and the tokens; collisions are caught by the token compare.
  uint64_t hash = 1469598103934665603ull ^ previous;
  for (int32_t token : block_tokens) {
    for (int byte = 0; byte < 4; ++byte) {
      hash ^= (static_cast<uint32_t>(token) >> (8 * byte)) & 0xffu;
      hash *= 1099511628211ull;
    }
  }
  return hash;
}

int32_t KvManager::attach_cached_prefix(SequenceBlocks& sequence, std::span<const int32_t> tokens, int32_t max_blocks) {
  LLM_CHECK(sequence.blocks.empty(), "attach_cached_prefix on a sequence that has blocks");
  uint64_t hash = 0;
  int32_t full_blocks = std::min<int32_t>(max_blocks, static_cast<int32_t>(tokens.size()) / block_size_);
  for (int32_t b = 0; b < full_blocks; ++b) {
    std::span<const int32_t> block_tokens = tokens.subspan(static_cast<size_t>(b * block_size_), block_size_);
    hash = block_hash(hash, block_tokens);
    std::optional<int32_t> block = pool_.find_cached(hash, block_tokens);
    if (!block) break;
    pool_.retain(*block);
    sequence.blocks.push_back(*block);
  }
  sequence.n_tokens = static_cast<int32_t>(sequence.blocks.size()) * block_size_;
  return sequence.n_tokens;
}

void KvManager::register_full_blocks(const SequenceBlocks& sequence, std::span<const int32_t> tokens,
                                     int32_t n_computed) {
  uint64_t hash = 0;
  int32_t full_blocks = std::min<int32_t>(n_computed, static_cast<int32_t>(tokens.size())) / block_size_;
  full_blocks = std::min<int32_t>(full_blocks, static_cast<int32_t>(sequence.blocks.size()));
  for (int32_t b = 0; b < full_blocks; ++b) {
    std::span<const int32_t> block_tokens = tokens.subspan(static_cast<size_t>(b * block_size_), block_size_);
    hash = block_hash(hash, block_tokens);
    pool_.register_cached(sequence.blocks[static_cast<size_t>(b)], hash, block_tokens);
  }
}

}  // namespace llm
