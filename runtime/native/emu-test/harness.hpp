// A minimal test harness for the emulator tests: EMU_TEST(name) { ... } registers a test;
// CHECK* record failures and continue; main.cpp runs every test and exits non-zero on failure.
// Plain C++: usable from emulated .cu files (after kvforge/emu/cuda_emu.hpp) and from main.cpp.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

namespace emutest {

struct Test {
  const char* name;
  void (*fn)();
};

inline std::vector<Test>& registry() {
  static std::vector<Test> tests;
  return tests;
}

struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

inline int& failures() {
  static int n = 0;
  return n;
}

inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "    FAIL %s:%d: %s\n", file, line, what.c_str());
  ++failures();
}

template <class T>
std::string show(const T& v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Prints a line when KVF_EMU_TEST_SHOW_MESSAGES is set (run.sh sets it for the first run).
inline void note(const std::string& line) {
  static const bool show = std::getenv("KVF_EMU_TEST_SHOW_MESSAGES") != nullptr;
  if (show) std::printf("      %s\n", line.c_str());
}

// Every needle must occur in the haystack.
inline bool containsAll(const std::string& hay, std::initializer_list<const char*> needles, std::string* missing) {
  for (const char* n : needles)
    if (hay.find(n) == std::string::npos) {
      *missing = n;
      return false;
    }
  return true;
}

}  // namespace emutest

#define EMU_TEST(name)                                                \
  static void name();                                                 \
  static const emutest::Registrar name##_registrar(#name, &name);     \
  static void name()

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) emutest::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b)                                                                                   \
  do {                                                                                                   \
    const auto& a_ = (a);                                                                                \
    const auto& b_ = (b);                                                                                \
    if (!(a_ == b_))                                                                                     \
      emutest::fail(__FILE__, __LINE__, std::string(#a " == " #b ": got ") + emutest::show(a_) + " vs " + \
                                            emutest::show(b_));                                          \
  } while (0)

// `stmt` must throw exactly Type (or a subclass) whose what() contains every listed substring;
// the message is returned through `msgOut` (a std::string) for further checks.
#define CHECK_THROWS(Type, stmt, msgOut, ...)                                                            \
  do {                                                                                                   \
    bool thrown_ = false;                                                                                \
    try {                                                                                                \
      stmt;                                                                                              \
    } catch (const Type& e_) {                                                                           \
      thrown_ = true;                                                                                    \
      msgOut = e_.what();                                                                                \
      std::string missing_;                                                                              \
      if (!emutest::containsAll(msgOut, {__VA_ARGS__}, &missing_))                                      \
        emutest::fail(__FILE__, __LINE__, "message lacks \"" + missing_ + "\": " + msgOut);             \
    } catch (const std::exception& e_) {                                                                 \
      thrown_ = true;                                                                                    \
      emutest::fail(__FILE__, __LINE__, std::string("wrong exception type: ") + e_.what());            \
    }                                                                                                    \
    if (!thrown_) emutest::fail(__FILE__, __LINE__, "no " #Type " thrown by " #stmt);                    \
  } while (0)
