// A minimal test harness, so the native tests need nothing beyond the compiler.
//   TEST(name) { CHECK(x); CHECK_EQ(a, b); }
//   int main(int argc, char** argv) { return check::run(argc, argv); }
// A failed check prints where and why, then aborts: ctest reports the test failed and
// a sanitizer build prints the stack. Name tests on the command line to run only those.
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace check {

struct test_case {
  const char* name;
  void (*fn)();
};

inline std::vector<test_case>& registry() {
  static std::vector<test_case> tests;
  return tests;
}

struct registrar {
  registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

[[noreturn]] inline void fail(const char* file, int line, const std::string& what) {
  fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what.c_str());
  fflush(stderr);
  abort();
}

// Numbers print as numbers (uint8_t too), anything else as operator<< has it.
template <class T>
void show(std::ostream& o, const T& v) {
  if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
    o << +v;
  } else {
    o << v;
  }
}

template <class A, class B>
void check_eq(const A& a, const B& b, const char* as, const char* bs, const char* file, int line) {
  if (a == b) return;
  std::ostringstream s;
  s << as << " == " << bs << " (";
  show(s, a);
  s << " vs ";
  show(s, b);
  s << ")";
  fail(file, line, s.str());
}

inline int run(int argc, char** argv) {
  for (const test_case& t : registry()) {
    bool selected = argc < 2;
    for (int i = 1; i < argc; i++) selected = selected || strcmp(argv[i], t.name) == 0;
    if (!selected) continue;
    auto t0 = std::chrono::steady_clock::now();
    t.fn();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    printf("ok   %s (%lld ms)\n", t.name, static_cast<long long>(ms));
    fflush(stdout);
  }
  return 0;
}

}  // namespace check

#define TEST(name)                                           \
  static void name();                                        \
  static const check::registrar name##_registrar(#name, name); \
  static void name()

#define CHECK(cond) \
  do {              \
    if (!(cond)) check::fail(__FILE__, __LINE__, #cond); \
  } while (0)

#define CHECK_EQ(a, b) check::check_eq((a), (b), #a, #b, __FILE__, __LINE__)

// CHECK_MSG(cond, "fmt", ...): a failed check that says more than the expression.
#define CHECK_MSG(cond, ...)                                   \
  do {                                                         \
    if (!(cond)) {                                             \
      char check_msg_[512];                                    \
      snprintf(check_msg_, sizeof(check_msg_), __VA_ARGS__);   \
      check::fail(__FILE__, __LINE__, std::string(#cond ": ") + check_msg_); \
    }                                                          \
  } while (0)
