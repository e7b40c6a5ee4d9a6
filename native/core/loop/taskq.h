// Cross-thread task queue of a loop: any thread may push; only the loop pops.
// A push on an empty queue wakes the loop: through its poller (poller_wake), which
// reports the queue's token, or, for a completion backend with no poller (io_uring),
// through an eventfd the backend watches (open_eventfd / wake_fd).
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

namespace rn {

struct poller;

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
  // Attach to the poller that will report pushes as `token`; 0 or -errno.
  int open(poller* p, uint64_t token);
  // Or wake through an eventfd (Linux; -ENOSYS elsewhere) that the loop's backend
  // watches itself: wake_fd() is readable after a push.
  int open_eventfd();
  int wake_fd() const { return efd_; }
  // Thread-safe. Returns 0, or -ESHUTDOWN once the loop has closed the queue.
  int push(task&& t);
  // Loop only, after the poller reported the token: clears the wake-up and takes
  // every queued task.
  void drain(std::vector<task>* out);
  void close_queue();  // later pushes fail; queued ones stay for drain()
 private:
  std::mutex mu_;
  std::vector<task> q_;
  bool closed_ = false;
  bool signaled_ = false;
  poller* poll_ = nullptr;
  int efd_ = -1;
  void signal();
  void ack();
};

}  // namespace rn
