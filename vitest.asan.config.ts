import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

// The sanitized flavour (`npm run test:asan`): the suites that run native code, against an addon,
// generated kernels and CUDA emulator built with ASan + UBSan (runtime/native/CMakeLists.txt,
// KVFORGE_SANITIZE), at reduced fuzz sizes. Any report fails the run: UBSan does not recover, and
// every report (also from a harness a spec starts) goes to REPORTS, which the teardown of
// specs/support/sanitizer-reports.ts turns into a failure.
//
// Node is not instrumented, so the test workers start with gcc's libasan preloaded (it must be
// the first library loaded). Leak detection is off: node and V8 keep memory until exit by design,
// and those leaks are not kvforge's (the emulator's own harness, all ours, runs with leaks on).
// The npm script sets KVFORGE_SANITIZE=1, so builds started from this process are sanitized too.
const libasan = execFileSync('g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
if (!path.isAbsolute(libasan) || !existsSync(libasan)) {
  throw new Error(`gcc's libasan.so was not found (g++ -print-file-name=libasan.so printed '${libasan}'): install libasan (Debian: apt-get install libgcc-12-dev)`);
}
export const REPORTS = process.env.KVFORGE_SANITIZER_REPORTS ?? path.join(os.tmpdir(), `kvforge-sanitizer-${process.pid}`);

export default defineConfig({
  test: {
    include: ['specs/native-checks.test.ts', 'specs/call-memory.test.ts', 'specs/boundary.test.ts', 'specs/kernels.test.ts',
      'specs/emulator.test.ts', 'specs/smoke.test.ts', 'specs/kv-cache.test.ts', 'specs/policy-cache.test.ts'],
    globalSetup: ['specs/support/sanitizer-reports.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    fileParallelism: false,
    execArgv: ['--expose-gc'],
    env: {
      KVFORGE_SANITIZE: '1',
      KVFORGE_SANITIZER_REPORTS: REPORTS,
      LD_PRELOAD: libasan,
      ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:allow_user_segv_handler=1:log_path=${REPORTS}/asan`,
      UBSAN_OPTIONS: `halt_on_error=1:print_stacktrace=1:log_path=${REPORTS}/ubsan`,
      // Reduced sizes: the sanitized build is ~3x slower, and it is there to find memory errors, not rare shapes.
      FUZZ_RUNS: process.env.FUZZ_RUNS ?? '4',
      FUZZ_VARIANTS: process.env.FUZZ_VARIANTS ?? '3',
      FUZZ_BOUNDARY_RUNS: process.env.FUZZ_BOUNDARY_RUNS ?? '120',
    },
  },
});
