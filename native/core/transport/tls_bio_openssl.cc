// The byte queues a TLS session runs over (transport/tls_openssl_impl.h): a BIO
// type of our own instead of BIO_s_mem. BIO_s_mem zeroes memory as it grows and
// on every reset (BUF_MEM_grow_clean, BIO_CTRL_RESET): three passes over every
// byte sent instead of one copy (perf: memset in mem_write, BIO_reset). Here a
// write appends (one memcpy, the buffer kept and grown by doubling), a read takes
// from the front, and the loop reads and clears the out queue in place.
#include <cstdlib>
#include <cstring>
#include <new>

#include "transport/tls_openssl_impl.h"

namespace rn {

namespace {

struct queue {
  uint8_t* p = nullptr;
  size_t cap = 0, start = 0, end = 0;
};

bool reserve(queue* q, size_t n) {
  if (q->cap - q->end >= n) return true;
  if (q->start > 0) {  // compact first: the unread bytes to the front
    memmove(q->p, q->p + q->start, q->end - q->start);
    q->end -= q->start;
    q->start = 0;
    if (q->cap - q->end >= n) return true;
  }
  size_t cap = q->cap ? q->cap : 16384;
  while (cap - q->end < n) cap *= 2;
  uint8_t* p = static_cast<uint8_t*>(realloc(q->p, cap));
  if (!p) return false;
  q->p = p;
  q->cap = cap;
  return true;
}

int q_write(BIO* b, const char* in, int n) {
  BIO_clear_retry_flags(b);
  queue* q = static_cast<queue*>(BIO_get_data(b));
  if (n <= 0) return 0;
  if (!reserve(q, static_cast<size_t>(n))) return -1;
  memcpy(q->p + q->end, in, static_cast<size_t>(n));
  q->end += static_cast<size_t>(n);
  return n;
}

int q_read(BIO* b, char* out, int n) {
  BIO_clear_retry_flags(b);
  queue* q = static_cast<queue*>(BIO_get_data(b));
  size_t have = q->end - q->start;
  if (have == 0) {
    BIO_set_retry_read(b);  // empty: "retry" (more ciphertext later), never EOF
    return -1;
  }
  size_t k = n > 0 && static_cast<size_t>(n) < have ? static_cast<size_t>(n) : have;
  if (n <= 0) return 0;
  memcpy(out, q->p + q->start, k);
  q->start += k;
  if (q->start == q->end) q->start = q->end = 0;
  return static_cast<int>(k);
}

long q_ctrl(BIO* b, int cmd, long, void*) {
  queue* q = static_cast<queue*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return static_cast<long>(q->end - q->start);
    case BIO_CTRL_WPENDING: return 0;
    case BIO_CTRL_RESET: q->start = q->end = 0; return 1;
    default: return 0;  // EOF, PUSH/POP, KTLS, DGRAM …: no
  }
}

int q_create(BIO* b) {
  queue* q = new (std::nothrow) queue();
  if (!q) return 0;
  BIO_set_data(b, q);
  BIO_set_init(b, 1);
  return 1;
}

int q_destroy(BIO* b) {
  queue* q = static_cast<queue*>(BIO_get_data(b));
  if (q) free(q->p);
  delete q;
  BIO_set_data(b, nullptr);
  return 1;
}

BIO_METHOD* method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* x = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringnet queue");
    if (x) {
      BIO_meth_set_write(x, q_write);
      BIO_meth_set_read(x, q_read);
      BIO_meth_set_ctrl(x, q_ctrl);
      BIO_meth_set_create(x, q_create);
      BIO_meth_set_destroy(x, q_destroy);
    }
    return x;
  }();
  return m;
}

}  // namespace

BIO* tls_bio_new() {
  BIO_METHOD* m = method();
  return m ? BIO_new(m) : nullptr;
}

bool tls_bio_append(BIO* b, const uint8_t* p, size_t n) {
  queue* q = static_cast<queue*>(BIO_get_data(b));
  if (!reserve(q, n)) return false;
  memcpy(q->p + q->end, p, n);
  q->end += n;
  return true;
}

size_t tls_bio_size(const BIO* b) {
  const queue* q = static_cast<const queue*>(BIO_get_data(const_cast<BIO*>(b)));
  return q->end - q->start;
}

size_t tls_bio_peek(BIO* b, const uint8_t** p) {
  queue* q = static_cast<queue*>(BIO_get_data(b));
  *p = q->p + q->start;
  return q->end - q->start;
}

void tls_bio_clear(BIO* b) {
  queue* q = static_cast<queue*>(BIO_get_data(b));
  q->start = q->end = 0;
}

}  // namespace rn
