// Inbound buffers: the memory a connection's received bytes are read into and that
// JS views without copying. The host supplies the allocator: the Node binding makes
// each buffer an external ArrayBuffer over aligned memory (a JS-owned one where the
// host refuses external ones: a V8 sandbox), native tests use the aligned allocator
// below. Buffers are identified by a small integer id that JS uses to
// find its view. Free buffers are pooled per size class, so a server whose
// connections come and go does not allocate in steady state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rn {

// Buffers start on a cache line, and so does each read into the batch arena: the
// kernel's copy into a destination off one is much slower on some CPUs (AMD EPYC,
// 50 x 64 KiB echo: the C floor took 60-63 CPU us per message with its buffer 16
// bytes off, 41 aligned; _copy_to_iter was 53% of ringnet's profile with malloc's
// 16-byte alignment).
constexpr size_t kBufAlign = 64;

// Bytes from p to the next cache line.
inline uint32_t cache_line_pad(const uint8_t* p) {
  return static_cast<uint32_t>(-reinterpret_cast<uintptr_t>(p) & (kBufAlign - 1));
}

struct allocator {
  void* ud = nullptr;
  // Returns memory of `size` bytes and sets *id (>= 0), or nullptr on failure.
  void* (*alloc)(void* ud, size_t size, int32_t* id) = nullptr;
  // Gives back a buffer; its memory must not be touched afterwards.
  void (*release)(void* ud, int32_t id) = nullptr;
};

// An allocator over aligned operator new (kBufAlign), for native tests and hosts
// without a JS heap.
allocator malloc_allocator();

struct inbuf {
  uint8_t* data = nullptr;
  int32_t id = -1;
  uint32_t cap = 0;
};

class bufpool {
 public:
  bufpool(allocator a, uint32_t base_size, uint32_t keep);
  ~bufpool();
  // A buffer of at least `size` bytes (rounded up to base_size << k). -ENOMEM on failure.
  int get(uint32_t size, inbuf* out);
  void put(inbuf* b);  // b is reset to empty
  uint32_t base_size() const { return base_; }
  size_t pooled() const;
 private:
  allocator a_;
  uint32_t base_, keep_;
  std::vector<inbuf> free_[16];  // class k holds buffers of base_ << k bytes
};

}  // namespace rn
