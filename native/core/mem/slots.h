// Slot table: connections are named by (slot, generation). A slot is reused after
// its connection closes, with the generation bumped, so a stale name never reaches
// the newer connection in the same slot.
#pragma once
#include <cstdint>
#include <vector>

namespace rn {

template <class T>
class slot_table {
 public:
  explicit slot_table(uint32_t cap) : items_(cap), gen_(cap, 1), used_(cap, 0) {
    free_.reserve(cap);
    for (uint32_t i = cap; i > 0; i--) free_.push_back(i - 1);
  }
  uint32_t capacity() const { return static_cast<uint32_t>(items_.size()); }
  uint32_t count() const { return count_; }
  // Takes a free slot; returns -1 when full.
  int64_t acquire() {
    if (free_.empty()) return -1;
    uint32_t s = free_.back();
    free_.pop_back();
    used_[s] = 1;
    count_++;
    return s;
  }
  // Frees a slot and bumps its generation so old names go stale.
  void release(uint32_t s) {
    if (!used_[s]) return;
    used_[s] = 0;
    gen_[s]++;
    if (gen_[s] == 0) gen_[s] = 1;  // 0 never names a live connection
    items_[s] = T();
    free_.push_back(s);
    count_--;
  }
  bool live(uint32_t s, uint32_t gen) const { return s < items_.size() && used_[s] && gen_[s] == gen; }
  bool used(uint32_t s) const { return s < items_.size() && used_[s]; }
  uint32_t gen(uint32_t s) const { return gen_[s]; }
  T& operator[](uint32_t s) { return items_[s]; }
 private:
  std::vector<T> items_;
  std::vector<uint32_t> gen_;
  std::vector<uint8_t> used_;
  std::vector<uint32_t> free_;
  uint32_t count_ = 0;
};

}  // namespace rn
