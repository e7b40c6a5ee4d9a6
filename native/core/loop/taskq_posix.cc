#include "loop/taskq.h"
#include "poller/poller.h"
#include "rn.h"

namespace rn {

taskq::~taskq() = default;

int taskq::open(poller* p, uint64_t token) {
  int err = poller_wake_open(p, token);
  if (err == 0) poll_ = p;
  return err;
}

int taskq::push(task&& t) {
  std::lock_guard<std::mutex> g(mu_);
  if (closed_ || !poll_) return -ESHUTDOWN;
  q_.push_back(std::move(t));
  // Wake under the lock: once close_queue() has returned, no push touches the
  // poller, so the loop may destroy it.
  if (!signaled_) {
    signaled_ = true;
    poller_wake(poll_);
  }
  return 0;
}

void taskq::drain(std::vector<task>* out) {
  if (poll_) poller_wake_ack(poll_);
  std::lock_guard<std::mutex> g(mu_);
  signaled_ = false;
  for (auto& t : q_) out->push_back(std::move(t));
  q_.clear();
}

void taskq::close_queue() {
  std::lock_guard<std::mutex> g(mu_);
  closed_ = true;
}

}  // namespace rn
