// outbuf: a FIFO of chunks recycled through a chunk_cache.
#include <cstring>
#include <random>
#include <string>

#include "check.h"
#include "mem/outbuf.h"

using rn::chunk_cache;
using rn::iovec_t;
using rn::outbuf;

namespace {

constexpr size_t kChunk = chunk_cache::kChunk;

std::string pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Everything peek() shows, in order.
std::string contents(const outbuf& b) {
  iovec_t iov[1024];
  int n = b.peek(iov, 1024);
  std::string s;
  for (int i = 0; i < n; i++) s.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  return s;
}

}  // namespace

TEST(empty_buffer) {
  chunk_cache cache;
  outbuf b;
  iovec_t iov[4];
  CHECK(b.empty());
  CHECK_EQ(b.size(), 0u);
  CHECK_EQ(b.peek(iov, 4), 0);
  b.consume(cache, 10);  // more than is there: a no-op, not a crash
  CHECK(b.empty());
}

TEST(append_peek_consume_small) {
  chunk_cache cache;
  outbuf b;
  CHECK_EQ(b.append(cache, "hello ", 6), 0);
  CHECK_EQ(b.append(cache, "world", 5), 0);
  CHECK_EQ(b.size(), 11u);
  iovec_t iov[4];
  CHECK_EQ(b.peek(iov, 4), 1);  // both appends share one chunk
  CHECK_EQ(iov[0].iov_len, 11u);
  CHECK(memcmp(iov[0].iov_base, "hello world", 11) == 0);
  b.consume(cache, 6);
  CHECK_EQ(contents(b), std::string("world"));
  b.consume(cache, 5);
  CHECK(b.empty());
  CHECK_EQ(b.peek(iov, 4), 0);
}

TEST(append_across_chunk_boundary) {
  chunk_cache cache;
  outbuf b;
  std::string data = pattern(kChunk + 100, 1);
  CHECK_EQ(b.append(cache, data.data(), 10), 0);
  CHECK_EQ(b.append(cache, data.data() + 10, data.size() - 10), 0);
  iovec_t iov[4];
  CHECK_EQ(b.peek(iov, 4), 2);
  CHECK_EQ(iov[0].iov_len, kChunk);
  CHECK_EQ(iov[1].iov_len, 100u);
  CHECK(contents(b) == data);
  // peek honours max
  CHECK_EQ(b.peek(iov, 1), 1);
  // consume ending exactly at the boundary drops the first chunk
  b.consume(cache, kChunk);
  CHECK_EQ(b.size(), 100u);
  CHECK_EQ(b.peek(iov, 4), 1);
  CHECK(contents(b) == data.substr(kChunk));
  // consume straddling into the next
  b.append(cache, data.data(), kChunk);
  b.consume(cache, 150);
  CHECK(contents(b) == data.substr(0, kChunk).substr(50));
  b.clear(cache);
}

TEST(large_append_gets_its_own_chunk) {
  chunk_cache cache;
  outbuf b;
  std::string big = pattern(3 * kChunk + 7, 2);
  CHECK_EQ(b.append(cache, big.data(), big.size()), 0);
  iovec_t iov[8];
  CHECK_EQ(b.peek(iov, 8), 1);  // one oversized chunk, not four
  CHECK_EQ(iov[0].iov_len, big.size());
  CHECK(contents(b) == big);
  b.consume(cache, big.size());
  CHECK(b.empty());
}

TEST(random_against_model) {
  chunk_cache cache;
  outbuf b;
  std::string model;
  std::mt19937 rng(12345);
  for (int i = 0; i < 2000; i++) {
    if (rng() % 2 == 0) {
      size_t n = rng() % 3 == 0 ? rng() % (2 * kChunk) : rng() % 300;
      std::string s = pattern(n, static_cast<uint32_t>(i));
      CHECK_EQ(b.append(cache, s.data(), s.size()), 0);
      model += s;
    } else {
      size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
      b.consume(cache, n);
      model.erase(0, n);
    }
    CHECK_EQ(b.size(), model.size());
    if (i % 50 == 0) CHECK(contents(b) == model);
  }
  CHECK(contents(b) == model);
  b.clear(cache);
}

TEST(chunk_cache_reuses_chunks) {
  chunk_cache cache;
  outbuf b;
  std::string data = pattern(kChunk, 3);
  b.append(cache, data.data(), data.size());
  iovec_t iov[2];
  b.peek(iov, 2);
  void* first = iov[0].iov_base;
  b.consume(cache, kChunk);  // the drained chunk goes back to the cache
  b.append(cache, "x", 1);
  b.peek(iov, 2);
  CHECK_EQ(iov[0].iov_base, first);
  // a drained last chunk is given back too, so an idle buffer holds nothing
  b.consume(cache, 1);
  b.append(cache, "y", 1);
  b.peek(iov, 2);
  CHECK_EQ(iov[0].iov_base, first);
  b.clear(cache);
  // a different outbuf sharing the cache gets the same chunk
  outbuf other;
  other.append(cache, "z", 1);
  other.peek(iov, 2);
  CHECK_EQ(iov[0].iov_base, first);
  other.clear(cache);
}

TEST(cache_get_and_put_direct) {
  chunk_cache cache;
  rn::out_chunk* a = cache.get(1);
  CHECK(a != nullptr);
  CHECK_EQ(a->cap, kChunk);
  CHECK_EQ(a->head, 0u);
  CHECK_EQ(a->tail, 0u);
  a->tail = 5;
  cache.put(a);
  rn::out_chunk* b = cache.get(kChunk);
  CHECK_EQ(b, a);
  CHECK_EQ(b->tail, 0u);  // recycled chunks come back empty
  rn::out_chunk* big = cache.get(kChunk + 1);
  CHECK(big != b);
  CHECK_EQ(big->cap, kChunk + 1);
  cache.put(big);  // oversized: freed, not kept
  rn::out_chunk* c = cache.get(10);
  CHECK(c != nullptr);
  cache.put(b);
  cache.put(c);
}

TEST(clear_returns_everything) {
  chunk_cache cache;
  outbuf b;
  std::string data = pattern(5 * kChunk / 2, 4);
  for (int i = 0; i < 4; i++) b.append(cache, data.data(), 1000 + i);
  b.append(cache, data.data(), data.size());
  CHECK(!b.empty());
  b.clear(cache);
  CHECK(b.empty());
  CHECK_EQ(b.size(), 0u);
  iovec_t iov[2];
  CHECK_EQ(b.peek(iov, 2), 0);
  // usable again after clear
  b.append(cache, "abc", 3);
  CHECK(contents(b) == "abc");
  b.clear(cache);
}

int main(int argc, char** argv) { return check::run(argc, argv); }
