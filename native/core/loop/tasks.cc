#include "loop/tasks.h"
#include "rn.h"
#include "sys/wake.h"

namespace rn {

taskq::~taskq() { wake_close(&wake_); }

int taskq::open() { return wake_open(&wake_); }

int taskq::push(task&& t) {
  bool need_signal;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (closed_) return -ESHUTDOWN;
    q_.push_back(std::move(t));
    need_signal = !signaled_;
    signaled_ = true;
  }
  if (need_signal) wake_signal(wake_);
  return 0;
}

void taskq::drain(std::vector<task>* out) {
  wake_clear(wake_);
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
