// Process-wide table of live loops by id. Other threads (the main reactor, other
// loops, pool workers) reach a loop only through it: posting holds the table's
// lock and a loop leaves the table before it is destroyed, so a post never
// reaches a freed loop.
#pragma once
#include <cstdint>

#include "loop/loop.h"

namespace rn {

uint32_t registry_add(loop* l);
void registry_remove(uint32_t id);
// Queue a task for loop `id`; -ESHUTDOWN if it is gone or closing.
int registry_post(uint32_t id, task&& t);
// Live connections of loop `id` (-1 if gone). Any thread.
int64_t registry_count(uint32_t id);
// Copy loop `id`'s stats (layout::ST_COUNT doubles); -ESHUTDOWN if gone.
int registry_stats(uint32_t id, double* out);

}  // namespace rn
