import { defineConfig } from 'vitest/config';

// Kernel suites build native code and run long fuzz campaigns: generous timeouts, and files run
// one at a time so two builds never fight over this machine's two cores.
export default defineConfig({
  test: {
    include: ['specs/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
