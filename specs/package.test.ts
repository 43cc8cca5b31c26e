/**
 * kvforge as a user gets it: `npm pack`, then a separate project (with and without
 * `"type": "module"`) that installs the tarball and uses it the way the README's "Use it from your
 * own project" section says: the CLI on the user's own .ts files, a script that imports kvforge
 * and builds and runs a kernel, and the user's `tsc` under strict settings. The installed package
 * has none of kvforge's devDependencies, so this is also the `--omit=dev` check (bench says KVF4009).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheRoot, PACKAGE_ROOT } from '../runtime/build/paths.ts';
import { writeUserProject } from './support/userProject.ts';

const VERSION = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const README = readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');

// The child processes must not inherit npm's settings from `npm test` (npm_config_local_prefix
// would point `npm ci` at this repo); the build cache is shared with the rest of the suite.
const ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  KVFORGE_CACHE_DIR: cacheRoot(),
};

interface Ran { code: number; stdout: string; stderr: string }

function sh(cwd: string, cmd: string, args: readonly string[]): Ran {
  const r = spawnSync(cmd, args, { cwd, env: ENV, encoding: 'utf8', timeout: 280_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run and expect success, showing what the command printed when it fails. */
function ok(cwd: string, cmd: string, ...args: string[]): Ran {
  const r = sh(cwd, cmd, args);
  expect(r.code, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

// A small variant, so that a cold build stays short; the same in both projects (one cache entry).
const RUN_VARIANT = `import { compile, createCache, defineAttention, defineMask, referenceAttention } from 'kvforge';

const everyThird = defineMask((b, h, q, k, p) => k <= q && (q - k) % p.stride === 0, { name: 'everyThird', params: { stride: 'int32' } });
const spec = defineAttention({ heads: { q: 2, kv: 1 }, headDim: 32, mask: everyThird.with({ stride: 3 }) });

async function main(): Promise<void> {
  const [attn] = await compile([spec]);
  const B = 1, Lq = 24, Lk = 24;
  const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  const q = rand(B * 2 * Lq * 32), k = rand(B * 1 * Lk * 32), v = rand(B * 1 * Lk * 32);
  const { out } = await attn!.run({ q, k, v, B, Lq, Lk });
  const ref = referenceAttention(spec, { q, k, v, B, Lq, Lk });
  let maxErr = 0;
  for (let i = 0; i < out.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i]! - ref.out[i]!));
  // The same rows through a KV cache: K/V appended token-major ([Lk, Hkv=1, D] is k itself),
  // queries [rows, Hq, D] at positions 0..23, then one decode step into preallocated arrays.
  using cache = createCache(attn!, { batch: 1, dtype: 'f32' });
  cache.append(0, { k, v, positions: Int32Array.from({ length: Lk }, (_, i) => i) });
  const tokenMajor = (x: Float32Array) => Float32Array.from({ length: x.length }, (_, j) => x[((j / 32 | 0) % 2 * Lq + (j / 64 | 0)) * 32 + j % 32]!);
  const pre = await attn!.prefill(cache, { q: tokenMajor(q), positions: Int32Array.from({ length: Lq }, (_, i) => i), counts: [Lq] });
  const want = tokenMajor(ref.out as unknown as Float32Array);
  let cacheErr = 0;
  for (let i = 0; i < want.length; i++) cacheErr = Math.max(cacheErr, Math.abs(pre.out[i]! - want[i]!));
  const step = { q: tokenMajor(q).subarray((Lq - 1) * 64), out: new Float32Array(64), lse: new Float32Array(2) };
  attn!.decodeSync(cache, step);
  for (let i = 0; i < 64; i++) cacheErr = Math.max(cacheErr, Math.abs(step.out[i]! - want[(Lq - 1) * 64 + i]!));
  console.log(JSON.stringify({ id: attn!.id, backend: attn!.backend, maxErr, cacheErr }));
}
void main();
`;

// What `tsc --init` turns on, and then some: the package's own declarations are checked too.
// (verbatimModuleSyntax only where the user's files are ES modules: in a CommonJS package it
// rejects the user's own `import` lines, whatever they import.)
function tsconfig(typeModule: boolean): object {
  return {
    compilerOptions: {
      strict: true, module: 'nodenext', target: 'esnext', types: [], noEmit: true, skipLibCheck: false,
      noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, isolatedModules: true,
      ...(typeModule ? { verbatimModuleSyntax: true } : {}),
    },
    files: ['my-variants.ts', 'run-variant.ts'],
  };
}

let work: string;
let tarball: string;
const t0 = performance.now();

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kvforge-package-'));
  const packDir = path.join(work, 'pack');
  mkdirSync(packDir);
  // npm pack runs `prepare`, which builds dist/ from the current sources.
  ok(PACKAGE_ROOT, 'npm', 'pack', '--pack-destination', packDir, '--silent');
  const tgz = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  expect(tgz).toHaveLength(1);
  tarball = path.join(packDir, tgz[0]!);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`package.test: ${((performance.now() - t0) / 1000).toFixed(1)} s in all`);
});

it('the tarball holds the compiled package and no test harness', () => {
  const list = ok(PACKAGE_ROOT, 'tar', '-tzf', tarball).stdout.split('\n');
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/codegen/backends/cpp/templates/kernel.cpp.hbs',
    'dist/runtime/cli/main.js', 'runtime/cli/kvforge.mjs', 'runtime/native/CMakeLists.txt', 'configs/builtins.ts', 'generated/manifest.json']) {
    expect(list).toContain(`package/${f}`);
  }
  expect(list.filter((f) => /^package\/(specs|runtime\/native\/(test|emu-test|cuda-test))\//.test(f))).toEqual([]);
});

describe.each([
  { kind: 'an ES module project', typeModule: true },
  { kind: 'a CommonJS project (no "type": "module")', typeModule: false },
])('installed into $kind', ({ typeModule }) => {
  let dir: string;

  beforeAll(() => {
    dir = path.join(work, typeModule ? 'esm' : 'cjs');
    mkdirSync(dir);
    writeUserProject({ repo: PACKAGE_ROOT, tarball, dir, typeModule, devDependencies: ['typescript'] });
    cpSync(path.join(PACKAGE_ROOT, 'specs/fixtures/my-variants.ts'), path.join(dir, 'my-variants.ts'));
    cpSync(path.join(PACKAGE_ROOT, 'specs/fixtures/bad-variant.ts'), path.join(dir, 'bad-variant.ts'));
    cpSync(path.join(PACKAGE_ROOT, 'specs/fixtures/readme-schemes.ts'), path.join(dir, 'my-schemes.ts'));
    writeFileSync(path.join(dir, 'run-variant.ts'), RUN_VARIANT);
    writeFileSync(path.join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig(typeModule), null, 2)}\n`);
    // Offline when the cache the repo's `npm ci` filled has every tarball (it does in CI).
    const r = ok(dir, 'npm', 'ci', '--prefer-offline', '--no-audit', '--no-fund');
    expect(`${r.stdout}${r.stderr}`).not.toContain('Unknown project config');
    expect(existsSync(path.join(dir, 'node_modules/onnxruntime-node'))).toBe(false);
  });

  it('npx kvforge --version prints the package version', () => {
    expect(ok(dir, 'npx', 'kvforge', '--version').stdout.trim()).toBe(VERSION);
  });

  it("npx kvforge gen writes the user's kernels, explain prints them", () => {
    const gen = ok(dir, 'npx', 'kvforge', 'gen', 'my-variants.ts', '--out', 'out');
    expect(gen.stdout).toContain('2 kernels written to out');
    expect(readdirSync(path.join(dir, 'out/cpp')).filter((f) => f.endsWith('.cpp'))).toHaveLength(2);
    const explain = ok(dir, 'npx', 'kvforge', 'explain', 'my-variants.ts', 'blocks');
    expect(explain.stdout).toMatch(/=== blocks \(blockcausal_\w+\)/);
    expect(explain.stdout).toContain('kvf::floor_div(k, 16) <= kvf::floor_div(q, 16)');
  });

  // The same kernels as cli.test.ts fuzzes, so the same cache entry: one build for the suite.
  it("npx kvforge fuzz builds and fuzzes the user's variants", () => {
    const r = ok(dir, 'npx', 'kvforge', 'fuzz', 'my-variants.ts', '--runs', '2', '--seed', '42');
    expect(r.stdout).toContain('2 passed, 0 failed');
  });

  it("npx kvforge inspect reads the user's schemes (the README's example) from the installed package", () => {
    const r = ok(dir, 'npx', 'kvforge', 'inspect', 'my-schemes.ts', 'tinyLckv', '--json');
    const plan = JSON.parse(r.stdout) as { layerTypes: string; caches: unknown[]; memory: { bytesPerToken: number } };
    expect(plan.layerTypes).toBe(['0', ...Array.from({ length: 20 }, () => '20'), '21'].join('_'));
    expect(plan.caches).toHaveLength(3);
    expect(plan.memory.bytesPerToken).toBe(3 * 4 * 128 * 2);
  });

  it("npx kvforge run generates from the user's scheme on the installed package's native executor", () => {
    const r = ok(dir, 'npx', 'kvforge', 'run', 'my-schemes.ts', 'tinyLckv', '--tokens', '3,1,4', '--steps', '3', '--hidden', '16', '--intermediate', '32', '--vocab', '50');
    expect(r.stdout).toMatch(/generated \(3 tokens, greedy\): \d+ \d+ \d+/);
    expect(r.stdout).toMatch(/decode [\d.]+ tokens\/s/);
  });

  it("a mistake in the user's file points at the user's file:line:col, with no kvforge stack", () => {
    const r = sh(dir, 'npx', ['kvforge', 'gen', 'bad-variant.ts', '--out', 'bad-out']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path.join(dir, 'bad-variant.ts')}:5:57: error KVF1005: captured variable`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('npx kvforge bench says the peer needs onnxruntime-node (KVF4009), before building anything', () => {
    const r = sh(dir, 'npx', ['kvforge', 'bench', '--quick']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error KVF4009: benchmark peer not installed: .* needs onnxruntime-node and onnx-proto; '(onnxruntime-node|onnx-proto)' is not installed/);
    expect(r.stderr).toMatch(/hint: install the peer next to kvforge: npm install --save-dev onnxruntime-node@\S+ onnx-proto@\S+/);
  });

  it('a script importing kvforge compiles, builds and runs a variant, over arrays and over a KV cache, that matches the reference', () => {
    const r = ok(dir, 'npx', 'tsx', 'run-variant.ts');
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as { id: string; backend: string; maxErr: number; cacheErr: number };
    expect(got.id).toMatch(/^everythird_\w+$/);
    expect(got.backend).toBe('cpu');
    expect(got.maxErr).toBeLessThan(1e-5);
    expect(got.cacheErr).toBeLessThan(1e-5);
  });

  it('plain node imports (and, in CommonJS, requires) the compiled package', () => {
    const esm = ok(dir, 'node', '--input-type=module', '-e', "import { compile, KvforgeError } from 'kvforge'; console.log(typeof compile, typeof KvforgeError)");
    expect(esm.stdout.trim()).toBe('function function');
    if (!typeModule) {
      const cjs = ok(dir, 'node', '-e', "console.log(require('kvforge').defineAttention({ heads: { q: 2, kv: 1 }, headDim: 32 }).kind)");
      expect(cjs.stdout.trim()).toBe('attention');
    }
  });

  it("the user's tsc type-checks files importing kvforge under strict settings, with no errors", () => {
    const r = sh(dir, 'npx', ['tsc', '-p', '.']);
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.code).toBe(0);
  });

  // Last: it breaks this project's copy of kvforge.
  it('an installed kvforge without its compiled JavaScript says so (KVF4013)', () => {
    rmSync(path.join(dir, 'node_modules/kvforge/dist'), { recursive: true });
    const r = sh(dir, 'npx', ['kvforge', '--version']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error KVF4013: kvforge is not built: .*dist\/runtime\/cli\/main\.js is missing/);
    expect(r.stderr).toContain('hint: install a packed kvforge (npm pack)');
  });
});

it('the README documents what this suite runs', () => {
  const section = README.slice(README.indexOf('## Use it from your own project'));
  expect(section.length).toBeLessThan(README.length);
  for (const cmd of ['npm install', 'npx kvforge --version', 'npx kvforge gen my-variants.ts --out out', 'npx kvforge fuzz my-variants.ts', 'npx kvforge explain my-variants.ts', 'npx tsx', 'npx tsc']) {
    expect(section).toContain(cmd);
  }
});
