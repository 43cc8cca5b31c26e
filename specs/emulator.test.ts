/**
 * The CUDA execution-model emulator's own tests (runtime/native/emu-test): barriers, shuffles and
 * votes, static and dynamic shared memory, atomics across OS threads, the divergent-barrier and
 * divergent-shuffle errors (named kernel, block and thread; the process carries on), fp16/bf16,
 * under three thread schedules. A C++ harness, run here so CI runs it. In the sanitized flavour
 * (`npm run test:asan`, KVFORGE_SANITIZE=1) it is built with ASan + UBSan instead, which checks
 * the fiber switches' annotations (fiber.hpp) as much as the tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../runtime/build/paths.ts';
import { harnessEnv, sanitized } from './support/sanitized.ts';

describe('CUDA emulator', () => {
  it(sanitized ? 'passes its own test suite under ASan + UBSan' : 'passes its own test suite under every schedule', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'kvforge-emu-'));
    try {
      const r = spawnSync('sh', [path.join(PACKAGE_ROOT, 'runtime/native/emu-test/run.sh'), ...(sanitized ? ['--asan-only'] : [])], {
        encoding: 'utf8', env: { ...harnessEnv(), KVF_EMU_TEST_OUT: out }, timeout: 280_000,
      });
      const log = `${r.stdout}\n${r.stderr}`;
      if (r.status !== 0) throw new Error(`emu-test failed (exit ${r.status}):\n${log.slice(-4000)}`);
      expect(log).toContain('emu-test: all passed');
      expect(log).toMatch(/ok +error_divergent_barrier/);
      expect(log).not.toMatch(/FAIL/);
      expect(log).toContain(sanitized ? '== tests (ASan + UBSan' : '== tests (schedule: shuffle:7)');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
