// Outbound bytes a socket could not take yet: a FIFO of chunks. Chunks are recycled
// through a per-loop free list so a connection that backs up and drains again does
// not allocate in steady state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sys/sock.h"

namespace rn {

struct out_chunk {
  out_chunk* next;
  size_t cap, head, tail;  // bytes live in data[head, tail)
  uint8_t data[1];
};

class chunk_cache {
 public:
  static constexpr size_t kChunk = 64 * 1024;
  ~chunk_cache();
  out_chunk* get(size_t min_cap);  // nullptr on OOM
  void put(out_chunk* c);
 private:
  std::vector<out_chunk*> free_;
};

class outbuf {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Copy bytes to the tail. Returns 0 or -ENOMEM.
  int append(chunk_cache& cache, const void* p, size_t n);
  // Fill iov with up to max segments from the head; returns the count.
  int peek(iovec_t* iov, int max) const;
  // Drop n bytes from the head.
  void consume(chunk_cache& cache, size_t n);
  void clear(chunk_cache& cache);
 private:
  out_chunk* head_ = nullptr;
  out_chunk* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rn
