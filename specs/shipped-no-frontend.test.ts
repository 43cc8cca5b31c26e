/**
 * generated/ is the boundary between the code generator and the runtime: in a process where
 * resolving ts-morph throws (specs/fixtures/no-ts-morph.mjs), `import 'kvforge'` succeeds, the
 * shipped kernels load from generated/manifest.json and one runs and matches the IR reference;
 * only compile() reaches for the front end (and fails there, which shows the hook is in force).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../runtime/build/paths.ts';

it('loadShipped() and the package entry run with ts-morph unresolvable; compile() is what needs it', () => {
  const r = spawnSync(process.execPath, [
    '--conditions=kvforge-source', '--import', 'tsx', '--import', './specs/fixtures/no-ts-morph.mjs', path.join('specs', 'fixtures', 'shipped-probe.ts'),
  ], { cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 280_000 });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as { entry: number; kernels: number; id: string; spec: string; maxErr: number; compileError: string };
  expect(got.entry).toBeGreaterThan(10);
  // Every name the manifest ships a kernel under (configs/ exports, and each scheme's variants).
  const manifest = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'generated', 'manifest.json'), 'utf8')) as { kernels: Record<string, { shipped: string[] }> };
  expect(got.kernels).toBe(Object.values(manifest.kernels).reduce((n, k) => n + k.shipped.length, 0));
  expect(got.kernels).toBeGreaterThan(16);
  expect(got.id).toMatch(/^sinks4window256_/);
  expect(got.spec).toBe('none');
  expect(got.maxErr).toBeLessThan(1e-5);
  expect(got.compileError).toMatch(/^ts-morph was resolved \(from file:\/\/\S*\/codegen\/frontend\/\w+\.ts\)/);
});
