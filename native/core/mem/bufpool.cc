#include "mem/bufpool.h"

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace rn {

namespace {
struct malloc_state {
  std::mutex mu;
  std::vector<void*> ptrs;
  std::vector<int32_t> free_ids;
};
malloc_state& mstate() {
  static malloc_state s;
  return s;
}
constexpr std::align_val_t kAlign{kBufAlign};

void* m_alloc(void*, size_t size, int32_t* id) {
  void* p = ::operator new(size ? size : 1, kAlign, std::nothrow);
  if (!p) return nullptr;
  malloc_state& s = mstate();
  std::lock_guard<std::mutex> g(s.mu);
  if (!s.free_ids.empty()) {
    *id = s.free_ids.back();
    s.free_ids.pop_back();
    s.ptrs[*id] = p;
  } else {
    *id = static_cast<int32_t>(s.ptrs.size());
    s.ptrs.push_back(p);
  }
  return p;
}
void m_release(void*, int32_t id) {
  malloc_state& s = mstate();
  std::lock_guard<std::mutex> g(s.mu);
  ::operator delete(s.ptrs[id], kAlign);
  s.ptrs[id] = nullptr;
  s.free_ids.push_back(id);
}
int size_class(uint32_t base, uint32_t size) {
  int k = 0;
  while ((static_cast<uint64_t>(base) << k) < size) k++;
  return k;
}
}  // namespace

allocator malloc_allocator() {
  allocator a;
  a.alloc = m_alloc;
  a.release = m_release;
  return a;
}

bufpool::bufpool(allocator a, uint32_t base_size, uint32_t keep) : a_(a), base_(base_size), keep_(keep) {}

bufpool::~bufpool() {
  for (auto& v : free_)
    for (inbuf& b : v) a_.release(a_.ud, b.id);
}

int bufpool::get(uint32_t size, inbuf* out) {
  int k = size_class(base_, size);
  if (k >= 16) return -ENOMEM;
  if (!free_[k].empty()) {
    *out = free_[k].back();
    free_[k].pop_back();
    return 0;
  }
  uint64_t cap = static_cast<uint64_t>(base_) << k;
  int32_t id = -1;
  void* p = a_.alloc(a_.ud, cap, &id);
  if (!p) return -ENOMEM;
  out->data = static_cast<uint8_t*>(p);
  out->id = id;
  out->cap = static_cast<uint32_t>(cap);
  return 0;
}

void bufpool::put(inbuf* b) {
  if (b->id < 0) return;
  int k = size_class(base_, b->cap);
  // Large buffers are rare and expensive to hold; keep only a few of them.
  size_t limit = k == 0 ? keep_ : 2;
  if (k < 16 && free_[k].size() < limit) {
    free_[k].push_back(*b);
  } else {
    a_.release(a_.ud, b->id);
  }
  *b = inbuf();
}

size_t bufpool::pooled() const {
  size_t n = 0;
  for (auto& v : free_) n += v.size();
  return n;
}

}  // namespace rn
