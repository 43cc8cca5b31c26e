/**
 * The standalone C++ harnesses that live next to the native code, run here so `npm test` runs
 * them: each builds, runs, and must exit 0 with its summary line. (Both also build sanitized,
 * KVF_SANITIZE=1, by hand; `npm run test:asan` leaves them out: instrumented they take minutes,
 * and the same core, emulator and templates run instrumented in its other suites.)
 * - runtime/native/test: check_kernel, the example kernels (test/kernels) against a float64
 *   reference on awkward shapes (D and Dv 1..256, GQA 1..8, NaN in masked keys, Lq or Lk = 0, ...).
 * - runtime/native/cuda-test: the CUDA kernel templates on the emulator against a float64
 *   reference in two thread orders (its nvcc steps are left to a manual run: see the test).
 * - runtime/native/cache-test: MemoryOps and the KV cache kernels (cpu, cuda-emu) against a plain
 *   C++ model after every operation, in three thread orders, plus nvcc's sm_80/sm_90 compile.
 * - runtime/native/test/check_gemm.sh: the model executor's GEMM and dense ops against float64,
 *   thread-count and batch invariance, in the AVX-512, AVX2 and scalar builds.
 * smoke.mjs runs in specs/smoke.test.ts.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NATIVE_DIR } from '../runtime/build/paths.ts';
import { harnessEnv } from './support/sanitized.ts';

const out = mkdtempSync(path.join(os.tmpdir(), 'kvforge-harness-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function ran(r: SpawnSyncReturns<string>, what: string): string {
  const log = `${r.stdout}\n${r.stderr}`;
  if (r.error) throw new Error(`${what} could not run: ${r.error.message}\n${log.slice(-4000)}`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}, signal ${r.signal}):\n${log.slice(-6000)}`);
  expect(log).not.toMatch(/^FAIL/m);
  return log;
}

describe('native harnesses', () => {
  it('check_kernel: the example kernels against the float64 reference', () => {
    const dir = path.join(out, 'check');
    const env = harnessEnv({ KVF_CHECK_ONLY: '1' });
    ran(spawnSync('sh', [path.join(NATIVE_DIR, 'test/build_tests.sh'), dir], { encoding: 'utf8', env, timeout: 400_000 }), 'build_tests.sh');
    const log = ran(spawnSync(path.join(dir, 'check_kernel'), [], { encoding: 'utf8', env, timeout: 200_000 }), 'check_kernel');
    expect(log).toMatch(/check_kernel: \d{3,} cases passed/);
    expect(log).toMatch(/allocation failure: '/); // a forward needing petabytes of scratch throws
  });

  it('check_gemm: the dense layers\' GEMM against float64 in three instruction-set builds', () => {
    const log = ran(spawnSync('sh', [path.join(NATIVE_DIR, 'test/check_gemm.sh'), path.join(out, 'gemm')], { encoding: 'utf8', env: harnessEnv(), timeout: 400_000 }), 'check_gemm.sh');
    expect(log.match(/check_gemm: \d{3,} cases passed \((avx512|avx2\+fma|scalar)\)/g)?.length).toBe(3);
    expect(log).toContain('cases passed (scalar)');
  });

  it('cuda-test: the CUDA kernel templates on the emulator against the float64 reference, two thread orders', () => {
    // The emulated step (2), on the small shapes. Steps 1 and 3 need nvcc and take minutes: what
    // they check for the shipped kernels, resources.test.ts (registers, spills) and the shipped
    // addon itself (nvcc and emulated objects linked into one kvforge.node, run by every suite)
    // check in `npm test`; the full matrix is `runtime/native/cuda-test/run.sh` by hand.
    const env = harnessEnv({ SKIP_NVCC: '1', KVF_CHECK_SMALL: '1' });
    const log = ran(spawnSync('sh', [path.join(NATIVE_DIR, 'cuda-test/run.sh'), path.join(out, 'cuda')], { encoding: 'utf8', env, timeout: 500_000 }), 'cuda-test/run.sh');
    expect(log).toMatch(/check_cuda cuda-emu: \d+ cases passed/);
    expect(log.match(/check_cuda cuda-emu: \d+ cases passed/g)?.length).toBe(2); // default thread order, shuffled
    expect(log).toContain('cuda-test: all passed (emulated only)');
  });

  it('cache-test: MemoryOps and the KV cache kernels (cpu, cuda-emu) against a plain model, three thread orders', () => {
    // Its nvcc step (two small .cu files for sm_80 and sm_90, linked with their emulated copies)
    // runs where nvcc is on PATH and is skipped, saying so, elsewhere.
    const env = harnessEnv();
    const log = ran(spawnSync('sh', [path.join(NATIVE_DIR, 'cache-test/run.sh'), path.join(out, 'cache')], { encoding: 'utf8', env, timeout: 500_000 }), 'cache-test/run.sh');
    expect(log).toMatch(/check_cache cpu: \d{2,} cases, \d{3,} checked operations passed/);
    expect(log.match(/check_cache cuda-emu: \d+ cases, \d+ checked operations passed/g)?.length).toBeGreaterThanOrEqual(4); // forward, reverse, shuffled, capped grids
    expect(log).toMatch(/^cache-test: all passed/m);
  });
});
