#include "reactor/registry.h"

#include <cstring>
#include <mutex>
#include <unordered_map>

#include "loop/layout.h"
#include "rn.h"

namespace rn {

namespace {
struct table {
  std::mutex mu;
  std::unordered_map<uint32_t, loop*> loops;
  uint32_t next_id = 1;
};
table& tab() {
  static table* t = new table;  // never destroyed: worker threads may outlive main's statics
  return *t;
}
}  // namespace

uint32_t registry_add(loop* l) {
  table& t = tab();
  std::lock_guard<std::mutex> g(t.mu);
  uint32_t id = t.next_id++;
  t.loops[id] = l;
  return id;
}

void registry_remove(uint32_t id) {
  table& t = tab();
  std::lock_guard<std::mutex> g(t.mu);
  t.loops.erase(id);
}

int registry_post(uint32_t id, task&& tk) {
  table& t = tab();
  std::lock_guard<std::mutex> g(t.mu);
  auto it = t.loops.find(id);
  if (it == t.loops.end()) return -ESHUTDOWN;
  return loop_post(it->second, std::move(tk));
}

int64_t registry_count(uint32_t id) {
  table& t = tab();
  std::lock_guard<std::mutex> g(t.mu);
  auto it = t.loops.find(id);
  return it == t.loops.end() ? -1 : static_cast<int64_t>(loop_live(it->second));
}

int registry_stats(uint32_t id, double* out) {
  table& t = tab();
  std::lock_guard<std::mutex> g(t.mu);
  auto it = t.loops.find(id);
  if (it == t.loops.end()) return -ESHUTDOWN;
  loop_stats_snapshot(it->second, out);
  return 0;
}

}  // namespace rn
