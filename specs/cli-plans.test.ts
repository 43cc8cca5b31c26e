/**
 * `kvforge fuzz` and `explain` on a user file check the kernels `gen` writes for it: one per entry
 * of the file's `kernelPlans` export (before, fuzz built only a default C++ kernel per export, so a
 * user's CUDA kernels were generated but never fuzzed). Also `kvforge --version`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../runtime/build/paths.ts';

function kvforge(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'runtime/cli/kvforge.mjs'), ...args], {
    cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 280_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const FILE = 'specs/fixtures/planned-variants.ts';

describe("kvforge on a user file with kernelPlans (seed 42)", () => {
  it('explain prints one section per planned kernel, the CUDA one with its CUDA source', () => {
    const r = kvforge('explain', FILE);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^=== strided \(/gm)).toHaveLength(2);
    expect(r.stdout).toMatch(/^=== strided \(everyother_\w+\)$/m);
    expect(r.stdout).toMatch(/^=== strided \(everyother_\w+, cuda bf16\)$/m);
    expect(r.stdout).toMatch(/^--- C\+\+$/m);
    expect(r.stdout).toMatch(/^--- CUDA$/m);
    expect(r.stdout).toContain('"target":"cuda"');
  });

  it('fuzz builds and fuzzes every planned kernel: the C++ one and the CUDA one', () => {
    const r = kvforge('fuzz', FILE, '--runs', '3', '--seed', '42');
    // A cold build reports itself on stderr (one line as it starts, one as it ends); nothing else.
    expect(r.stderr.replace(/^kvforge: (building|built) .*\n/gm, '')).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`building 2 kernels from ${FILE}`);
    expect(r.stdout).toMatch(/ok +everyother_\w+ +cpu +f32 +3 cases, seed 42/);
    expect(r.stdout).toMatch(/ok +everyother_\w+ +cuda(-emu)? +bf16 +3 cases, seed 42/);
    expect(r.stdout).toContain('2 passed, 0 failed');
  });
});

it('kvforge --version prints the version in package.json', () => {
  const { version } = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = kvforge('--version');
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe(version);
});
