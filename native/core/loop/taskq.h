// Cross-thread task queue of a loop: any thread may push; only the loop pops.
// A push on an empty queue signals the wake fd so the loop's poller reports it.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

namespace rn {

enum task_kind : uint8_t { TASK_WRITE, TASK_CLOSE, TASK_WAKE, TASK_ADOPT, TASK_STOP };

struct task {
  task_kind kind;
  uint32_t slot = 0, gen = 0;
  int fd = -1;             // TASK_ADOPT: the accepted socket
  uint32_t tag = 0;        // caller's id, echoed back on completion
  std::vector<uint8_t> data;
};

class taskq {
 public:
  taskq() = default;
  ~taskq();
  int open();  // creates the wake fd; 0 or -errno
  int wake_fd() const { return rfd_; }
  // Thread-safe. Returns 0, or -ESHUTDOWN once the loop has closed the queue.
  int push(task&& t);
  // Loop only: takes every queued task and clears the wake signal.
  void drain(std::vector<task>* out);
  void close_queue();  // later pushes fail; queued ones stay for drain()
 private:
  void signal();
  std::mutex mu_;
  std::vector<task> q_;
  bool closed_ = false;
  bool signaled_ = false;
  int rfd_ = -1, wfd_ = -1;  // eventfd: rfd_ == wfd_
};

}  // namespace rn
