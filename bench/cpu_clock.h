// Clocks every C load generator in bench/ reads (loadgen.c, udp_load.c,
// tls_load.c): monotonic time, and CPU time of a process (the server, from /proc)
// and of ourselves. Linux only, as the load generators are.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// utime + stime of every thread of the process, in microseconds; -1 if unreadable.
// The process's CPU time (all threads), user + system; *user_us (when not NULL)
// gets the user part alone.
static inline double proc_cpu_split_us(int pid, double *user_us) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  line[n] = 0;
  char *p = strrchr(line, ')'); // comm may contain spaces
  unsigned long ut, st;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return -1;
  double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
  if (user_us) *user_us = (double)ut * tick_us;
  return (double)(ut + st) * tick_us;
}

static inline double proc_cpu_us(int pid) { return proc_cpu_split_us(pid, NULL); }

static inline double self_cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}
