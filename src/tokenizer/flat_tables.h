// Open-addressing lookup tables for the BPE hot path. std::unordered_map chases one pointer per
// node, and the merge loop does one lookup per adjacent pair; a flat power-of-two table with
// linear probing answers most lookups with one cache line. Built once, read-only afterwards.
#pragma once

#include <cstdint>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llm {

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    h = mix64(h ^ word);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  return mix64(h ^ tail ^ (uint64_t{s.size() - i} << 56));
}

// Zero-initialised storage for a lookup table, 2 MiB aligned and marked for transparent huge
// pages: the tables are probed at random, and with 4 KiB pages most probes also miss the TLB.
template <class T>
class TableStorage {
 public:
  void assign(size_t n, const T& value) {
    constexpr size_t kHugePage = size_t{2} << 20;
    const size_t bytes = (std::max<size_t>(n, 1) * sizeof(T) + kHugePage - 1) / kHugePage * kHugePage;
    void* memory = std::aligned_alloc(kHugePage, bytes);
    if (memory == nullptr) throw std::bad_alloc();  // like std::vector: allocation failure
    madvise(memory, bytes, MADV_HUGEPAGE);          // a hint; ignored where unsupported
    data_.reset(static_cast<T*>(memory));
    size_ = n;
    std::uninitialized_fill_n(data_.get(), n, value);
  }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* begin() { return data_.get(); }
  T* end() { return data_.get() + size_; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T[], Free> data_;
  size_t size_ = 0;
};

// uint64 key -> (int32, int32) value; key ~0 is reserved as "empty".
class FlatPairTable {
 public:
  struct Entry {
    uint64_t key = ~uint64_t{0};
    int32_t first = 0;
    int32_t second = 0;
  };
  void reserve(size_t n) {
    size_t capacity = 16;
    while (capacity < n * 2) capacity *= 2;  // load factor <= 1/2
    entries_.assign(capacity, Entry{});
    mask_ = capacity - 1;
    size_ = 0;
  }
  // Keeps the first value inserted for a key. Grows as needed.
  void insert_if_absent(uint64_t key, int32_t first, int32_t second) {
    if ((size_ + 1) * 2 > entries_.size()) grow();
    for (size_t slot = mix64(key) & mask_;; slot = (slot + 1) & mask_) {
      Entry& e = entries_[slot];
      if (e.key == key) return;
      if (e.key == ~uint64_t{0}) {
        e = {key, first, second};
        ++size_;
        return;
      }
    }
  }
  const Entry* find(uint64_t key) const {
    if (entries_.empty()) return nullptr;
    for (size_t slot = mix64(key) & mask_;; slot = (slot + 1) & mask_) {
      const Entry& e = entries_[slot];
      if (e.key == key) return &e;
      if (e.key == ~uint64_t{0}) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  void grow() {
    TableStorage<Entry> old = std::move(entries_);
    reserve(std::max<size_t>(16, old.size()));
    for (const Entry& e : old) {
      if (e.key != ~uint64_t{0}) insert_if_absent(e.key, e.first, e.second);
    }
  }
  TableStorage<Entry> entries_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Byte string -> id, for strings owned elsewhere (the tokenizer's token table, which must outlive
// and not move under this index). Slots keep the hash, the length and up to 8 leading bytes, so
// that most lookups (tokens are short) never touch the strings themselves.
class FlatStringIndex {
 public:
  void reset(const std::vector<std::string>* texts, size_t expected) {
    texts_ = texts;
    size_t capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    size_ = 0;
  }
  // False if the text is already present (the first id wins).
  bool insert(int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const std::string_view text = (*texts_)[id];
    const uint64_t h = hash_bytes(text);
    const uint64_t prefix = prefix_of(text);
    for (size_t slot = h & mask_;; slot = (slot + 1) & mask_) {
      Slot& s = slots_[slot];
      if (s.id < 0) {
        s = {h, prefix, id, static_cast<uint32_t>(text.size())};
        ++size_;
        return true;
      }
      if (matches(s, h, prefix, text)) return false;
    }
  }
  int32_t find(std::string_view text) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_bytes(text);
    const uint64_t prefix = prefix_of(text);
    for (size_t slot = h & mask_;; slot = (slot + 1) & mask_) {
      const Slot& s = slots_[slot];
      if (s.id < 0) return -1;
      if (matches(s, h, prefix, text)) return s.id;
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint64_t prefix = 0;  // the first min(8, length) bytes, zero padded
    int32_t id = -1;
    uint32_t length = 0;
  };
  static uint64_t prefix_of(std::string_view text) {
    uint64_t prefix = 0;
    std::memcpy(&prefix, text.data(), std::min<size_t>(8, text.size()));
    return prefix;
  }
  bool matches(const Slot& s, uint64_t h, uint64_t prefix, std::string_view text) const {
    if (s.hash != h || s.length != text.size() || s.prefix != prefix) return false;
    return text.size() <= 8 || std::string_view((*texts_)[s.id]) == text;
  }
  void grow() {
    TableStorage<Slot> old = std::move(slots_);
    reset(texts_, std::max<size_t>(16, old.size()));
    for (const Slot& s : old) {
      if (s.id >= 0) insert(s.id);
    }
  }
  const std::vector<std::string>* texts_ = nullptr;
  TableStorage<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace llm
