/** The `kvforge` command as a user runs it: exit codes, messages, user files. */
import { cpSync, mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvforge } from './support/cli.ts';

describe('kvforge CLI', () => {
  it('gen --check passes on the checked-in tree', () => {
    const r = kvforge('gen', '--check');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/17 kernels up to date in generated/);
  });

  it("gen writes a user's file; gen --check then fails when a file is edited", () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'kvforge-gen-'));
    try {
      expect(kvforge('gen', 'specs/fixtures/my-variants.ts', '--out', out).code).toBe(0);
      const files = readdirSync(path.join(out, 'cpp'));
      expect(files).toHaveLength(2);
      expect(kvforge('gen', 'specs/fixtures/my-variants.ts', '--out', out, '--check').code).toBe(0);
      writeFileSync(path.join(out, 'cpp', files[0]!), '// edited\n');
      const r = kvforge('gen', 'specs/fixtures/my-variants.ts', '--out', out, '--check');
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`changed: cpp/${files[0]}`);
      expect(r.stderr).toContain('hint: run kvforge gen and commit the result');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("fuzz builds and checks a user's own variants with no change inside kvforge", () => {
    const r = kvforge('fuzz', 'specs/fixtures/my-variants.ts', '--runs', '4', '--seed', '7');
    // Not a TTY: a build (if not cached) is one line when it starts and one when it ends.
    expect(r.stderr.replace(/^kvforge: (building|built) .*\n/gm, '')).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok +blockcausal_\w+ +cpu +f32 +4 cases, seed 7/);
    expect(r.stdout).toMatch(/ok +causal_nearby_\w+ +cpu +f32 +4 cases, seed 7/);
    expect(r.stdout).toContain('2 passed, 0 failed');
  });

  it('a mistake in a user file is a located error with a hint, exit code 2, and no kvforge stack', () => {
    const r = kvforge('gen', 'specs/fixtures/bad-variant.ts', '--out', os.tmpdir());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/specs\/fixtures\/bad-variant\.ts:5:\d+: error KVF1005: captured variable/);
    expect(r.stderr).toContain("const leaky = defineMask((b, h, q, k) => q - k < W && k <= q, { name: 'leaky' });");
    expect(r.stderr).toContain('^');
    expect(r.stderr).toContain('hint: declare it');
    expect(r.stderr).not.toMatch(/at .*codegen\//);
  });

  it('explain prints every stage and the C++', () => {
    const r = kvforge('explain', 'configs/builtins.ts', 'window256');
    expect(r.code).toBe(0);
    for (const stage of ['lowerSpec', 'bindParams', 'foldConstants', 'plan', 'C++']) expect(r.stdout).toContain(`--- ${stage === 'C++' ? 'C++' : `after ${stage}`}`);
    expect(r.stdout).toContain('mask:  q - p_m0_window < k && k <= q');
    expect(r.stdout).toContain('return q - 256 < k && k <= q;');
  });

  it('bad arguments are usage errors', () => {
    const r = kvforge('fuzz', '--runs', 'many');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--runs must be an integer >= 1');
  });
});
