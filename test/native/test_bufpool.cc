// bufpool: inbound buffers by size class over a host allocator.
#include <cstdlib>
#include <map>

#include "mem/bufpool.h"
#include "check.h"

using rn::allocator;
using rn::bufpool;
using rn::inbuf;

namespace {

// Counts what the pool asks of the host, and can be told to fail.
struct counting {
  int allocs = 0, releases = 0;
  bool fail = false;
  int32_t next_id = 0;
  std::map<int32_t, void*> live;

  allocator get() {
    allocator a;
    a.ud = this;
    a.alloc = [](void* ud, size_t size, int32_t* id) -> void* {
      auto* c = static_cast<counting*>(ud);
      if (c->fail) return nullptr;
      void* p = malloc(size);
      *id = c->next_id++;
      c->live[*id] = p;
      c->allocs++;
      return p;
    };
    a.release = [](void* ud, int32_t id) {
      auto* c = static_cast<counting*>(ud);
      CHECK(c->live.count(id) == 1);  // released once, and only what was given
      free(c->live[id]);
      c->live.erase(id);
      c->releases++;
    };
    return a;
  }
};

}  // namespace

TEST(size_classes) {
  counting c;
  {
    bufpool p(c.get(), 1024, 4);
    CHECK_EQ(p.base_size(), 1024u);
    inbuf b;
    CHECK_EQ(p.get(1, &b), 0);
    CHECK_EQ(b.cap, 1024u);
    CHECK(b.id >= 0 && b.data != nullptr);
    inbuf b2;
    CHECK_EQ(p.get(1024, &b2), 0);
    CHECK_EQ(b2.cap, 1024u);
    inbuf b3;
    CHECK_EQ(p.get(1025, &b3), 0);
    CHECK_EQ(b3.cap, 2048u);
    inbuf b4;
    CHECK_EQ(p.get(5000, &b4), 0);
    CHECK_EQ(b4.cap, 8192u);
    b4.data[8191] = 1;  // the whole capacity is usable
    CHECK_EQ(c.allocs, 4);
    p.put(&b);
    p.put(&b2);
    p.put(&b3);
    p.put(&b4);
    CHECK_EQ(b.id, -1);  // put resets the caller's handle
    CHECK(b.data == nullptr);
  }
  CHECK_EQ(c.releases, c.allocs);  // the destructor gives back what was pooled
}

TEST(reuse_within_a_class) {
  counting c;
  bufpool p(c.get(), 4096, 8);
  inbuf a;
  p.get(100, &a);
  int32_t id = a.id;
  uint8_t* data = a.data;
  p.put(&a);
  CHECK_EQ(p.pooled(), 1u);
  inbuf b;
  CHECK_EQ(p.get(4000, &b), 0);  // same class: the pooled buffer, no new allocation
  CHECK_EQ(b.id, id);
  CHECK(b.data == data);
  CHECK_EQ(c.allocs, 1);
  CHECK_EQ(p.pooled(), 0u);
  inbuf d;
  CHECK_EQ(p.get(4097, &d), 0);  // other class: a new allocation
  CHECK(d.id != id);
  CHECK_EQ(c.allocs, 2);
  p.put(&b);
  p.put(&d);
}

TEST(keep_limits) {
  counting c;
  {
    bufpool p(c.get(), 1024, 2);
    inbuf small[5], large[5];
    for (auto& b : small) CHECK_EQ(p.get(1024, &b), 0);
    for (auto& b : large) CHECK_EQ(p.get(4096, &b), 0);
    CHECK_EQ(c.allocs, 10);
    for (auto& b : small) p.put(&b);
    CHECK_EQ(c.releases, 3);  // keep = 2 base-size buffers
    for (auto& b : large) p.put(&b);
    CHECK_EQ(c.releases, 6);  // and at most 2 of each larger class
    CHECK_EQ(p.pooled(), 4u);
  }
  CHECK_EQ(c.releases, 10);
  CHECK(c.live.empty());
}

TEST(keep_zero_pools_nothing_small) {
  counting c;
  bufpool p(c.get(), 1024, 0);
  inbuf b;
  p.get(1, &b);
  p.put(&b);
  CHECK_EQ(c.releases, 1);
  CHECK_EQ(p.pooled(), 0u);
}

TEST(put_of_empty_handle_is_a_noop) {
  counting c;
  bufpool p(c.get(), 1024, 2);
  inbuf b;
  p.put(&b);
  CHECK_EQ(c.releases, 0);
  CHECK_EQ(p.pooled(), 0u);
}

TEST(too_large_and_allocator_failure) {
  counting c;
  bufpool p(c.get(), 1024, 2);
  inbuf b;
  CHECK_EQ(p.get(1024u << 15, &b), 0);  // the largest class
  p.put(&b);
  CHECK_EQ(p.get((1024u << 15) + 1, &b), -ENOMEM);  // beyond the 16 classes
  c.fail = true;
  CHECK_EQ(p.get(100, &b), -ENOMEM);
  CHECK_EQ(b.id, -1);
  CHECK_EQ(p.get(1024u << 15, &b), 0);  // a pooled buffer needs no allocation
  p.put(&b);
}

TEST(malloc_allocator_ids) {
  allocator a = rn::malloc_allocator();
  int32_t id1 = -1, id2 = -1;
  void* p1 = a.alloc(a.ud, 100, &id1);
  void* p2 = a.alloc(a.ud, 100, &id2);
  CHECK(p1 && p2 && id1 >= 0 && id2 >= 0 && id1 != id2);
  a.release(a.ud, id1);
  int32_t id3 = -1;
  void* p3 = a.alloc(a.ud, 50, &id3);
  CHECK_EQ(id3, id1);  // ids are recycled
  a.release(a.ud, id2);
  a.release(a.ud, id3);
  (void)p3;
}

int main(int argc, char** argv) { return check::run(argc, argv); }
