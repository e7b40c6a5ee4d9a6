#include "mem/outbuf.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace rn {

chunk_cache::~chunk_cache() {
  for (out_chunk* c : free_) free(c);
}

out_chunk* chunk_cache::get(size_t min_cap) {
  if (min_cap <= kChunk && !free_.empty()) {
    out_chunk* c = free_.back();
    free_.pop_back();
    c->next = nullptr;
    c->head = c->tail = 0;
    return c;
  }
  size_t cap = min_cap < kChunk ? kChunk : min_cap;
  out_chunk* c = static_cast<out_chunk*>(malloc(offsetof(out_chunk, data) + cap));
  if (!c) return nullptr;
  c->next = nullptr;
  c->cap = cap;
  c->head = c->tail = 0;
  return c;
}

void chunk_cache::put(out_chunk* c) {
  // Oversized chunks and a cache beyond 64 chunks (4 MiB) go back to the system.
  if (c->cap != kChunk || free_.size() >= 64) {
    free(c);
    return;
  }
  free_.push_back(c);
}

int outbuf::append(chunk_cache& cache, const void* p, size_t n) {
  const uint8_t* src = static_cast<const uint8_t*>(p);
  while (n > 0) {
    if (!tail_ || tail_->tail == tail_->cap) {
      out_chunk* c = cache.get(n);
      if (!c) return -ENOMEM;
      if (tail_) tail_->next = c; else head_ = c;
      tail_ = c;
    }
    size_t room = tail_->cap - tail_->tail;
    size_t k = n < room ? n : room;
    memcpy(tail_->data + tail_->tail, src, k);
    tail_->tail += k;
    size_ += k;
    src += k;
    n -= k;
  }
  return 0;
}

int outbuf::peek(iovec_t* iov, int max) const {
  int n = 0;
  for (out_chunk* c = head_; c && n < max; c = c->next) {
    if (c->tail == c->head) continue;
    iov[n].iov_base = c->data + c->head;
    iov[n].iov_len = c->tail - c->head;
    n++;
  }
  return n;
}

void outbuf::consume(chunk_cache& cache, size_t n) {
  if (n > size_) n = size_;
  size_ -= n;
  while (n > 0 && head_) {
    size_t live = head_->tail - head_->head;
    if (n < live) {
      head_->head += n;
      return;
    }
    n -= live;
    out_chunk* c = head_;
    head_ = c->next;
    if (!head_) tail_ = nullptr;
    cache.put(c);
  }
  // A drained last chunk is dropped too, so an idle connection holds no memory.
  if (head_ && head_ == tail_ && head_->head == head_->tail) {
    cache.put(head_);
    head_ = tail_ = nullptr;
  }
}

void outbuf::clear(chunk_cache& cache) {
  while (head_) {
    out_chunk* c = head_;
    head_ = c->next;
    cache.put(c);
  }
  tail_ = nullptr;
  size_ = 0;
}

}  // namespace rn
