// Runs every EMU_TEST linked in; exit status 1 when any check failed or a test threw.
#include <chrono>
#include <cstdio>
#include <exception>
#include "harness.hpp"

int main() {
  int failedTests = 0;
  for (const emutest::Test& t : emutest::registry()) {
    const int before = emutest::failures();
    const auto t0 = std::chrono::steady_clock::now();
    try {
      t.fn();
    } catch (const std::exception& e) {
      emutest::fail(__FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      emutest::fail(__FILE__, __LINE__, "unexpected non-std exception");
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const bool ok = emutest::failures() == before;
    failedTests += !ok;
    std::printf("  %-4s %-44s %8.1f ms\n", ok ? "ok" : "FAIL", t.name, ms);
  }
  std::printf("%zu tests, %d failed\n", emutest::registry().size(), failedTests);
  return failedTests == 0 ? 0 : 1;
}
