/**
 * Names are text a user wrote: mask, score and spec names, export names (string exports included),
 * file paths. None may reach generated source as code. Every kernel kind is rendered with every
 * hostile name in every place a name goes, the text is checked, one addon holding hostile kernels
 * of every kind is built and run against the reference, and the C string literal that carries a
 * name is checked with a real compiler.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteUserText, isSafeText } from '../codegen/backends/safeText.ts';
import { provenanceOf } from '../codegen/backends/provenance.ts';
import { renderKernel } from '../codegen/backends/render.ts';
import { cppView } from '../codegen/backends/cpp/view.ts';
import { cudaView } from '../codegen/backends/cuda/view.ts';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { generate } from '../codegen/generate.ts';
import { compileUnit, type KernelUnit } from '../codegen/pipeline.ts';
import { KERNEL_ID } from '../codegen/unit.ts';
import type { KernelPlan } from '../codegen/planner/plan.ts';
import { and, defineAttention, defineMask, defineScore, type AttentionSpec, type MaskDef, type ScoreDef } from '../dsl/index.ts';
import { checkCase } from '../runtime/verify/fuzz.ts';
import { compile } from '../runtime/api/compile.ts';
import { PACKAGE_ROOT } from '../runtime/build/paths.ts';
import { injectionProblems, joined, MARKER, PAYLOADS } from './support/hostile-names.ts';
import { kvforge } from './support/cli.ts';
import { SEED } from './support/random-expr.ts';

// A def or spec carrying any name, whatever declaration-time checks accept: specs are plain data,
// so the code generator must hold names inert on its own (dsl/name.ts says so).
function named<D extends MaskDef<any> | ScoreDef<any>>(def: D, name: string): D {
  return Object.assign(Object.create(Object.getPrototypeOf(def)), def, { name }) as D;
}

const window = defineMask((b, h, q, k, p) => q - k < p.w && k <= q, { name: 'w', params: { w: 'int32' } });
const stride = defineMask((b, h, q, k) => (q - k) % 3 !== 2, { name: 's' });
const cap = defineScore((s, b, h, q, k, p) => p.cap * Math.tanh(s / p.cap), { name: 'c', params: { cap: 'float32' } });

interface Names { readonly window: string; readonly stride: string; readonly score: string; readonly spec: string }

function hostileSpec(n: Names): AttentionSpec {
  const spec = defineAttention({
    name: 'replaced below', heads: { q: 4, kv: 2 }, headDim: 32,
    mask: and(named(window, n.window).with({ w: 9 }), named(stride, n.stride)),
    score: named(cap, n.score).with({ cap: 5 }),
  });
  return { ...spec, name: n.spec };
}

// Every kernel kind: C++ and CUDA, baked and run-time parameters (runtime mode prints a comment
// per parameter, holding the declaring function's name), f32 and a narrow CUDA storage type.
const KINDS: ReadonlyArray<Partial<KernelPlan>> = [
  { target: 'cpp', paramMode: 'baked' }, { target: 'cpp', paramMode: 'runtime' },
  { target: 'cuda', paramMode: 'baked', dtype: 'f32' }, { target: 'cuda', paramMode: 'runtime', dtype: 'bf16' },
];
const kindName = (p: Partial<KernelPlan>) => `${p.target} ${p.paramMode}${p.dtype ? ` ${p.dtype}` : ''}`;

function expectInert(source: string): void {
  expect(injectionProblems(source)).toEqual([]);
}

describe('user text as a C string literal (quoteUserText)', () => {
  it('every hostile name becomes printable ASCII that ends in a quote and holds no ?? or */', () => {
    for (const [what, p] of Object.entries(PAYLOADS)) {
      const q = quoteUserText(p);
      expect(q, what).toMatch(/^"[\x20-\x7e]*"$/);
      expect(isSafeText(q), what).toBe(true);
    }
    expect(quoteUserText('a\n#error "x"??/\\')).toBe('"a\\n#error \\"x\\"\\?\\?/\\\\"');
    expect(quoteUserText('configs/builtins.ts#causal')).toBe('"configs/builtins.ts#causal"');
  });

  // The compiler is the judge of what a literal means, and of whether a comment holding one ends
  // where it should: a literal that let a line splice or a block comment end would hide the
  // declarations after it, and the program would not compile.
  it(`a real compiler reads each literal back as the text's UTF-8 bytes, in comments too (seed ${SEED})`, () => {
    const texts = [...Object.values(PAYLOADS), 'caf\u00e9 \u{1f600}', '\ud800 lone surrogate', '', '7\u0001' + '8',
      ...fc.sample(fc.string({ unit: 'binary', maxLength: 40 }), { seed: SEED, numRuns: 300 }),
      ...fc.sample(fc.string({ unit: fc.constantFrom('?', '?', '/', '\\', '*', '"', '\n', '\r', '0', '7', 'x', '\u2028'), maxLength: 12 }), { seed: SEED + 1, numRuns: 300 })];
    const program = [
      '#include <cstdio>',
      ...texts.flatMap((t, i) => [
        `// ${quoteUserText(t)}`, `static const char t${i}[] = ${quoteUserText(t)};`,
        `/* ${quoteUserText(t)} */ static const unsigned n${i} = sizeof(t${i}) - 1;`,
      ]),
      'int main() {',
      ...texts.map((_, i) => `  for (unsigned j = 0; j < n${i}; j++) { std::printf("%02x", static_cast<unsigned char>(t${i}[j])); }\n  std::printf("\\n");`),
      '}', '',
    ].join('\n');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvforge-literal-'));
    try {
      writeFileSync(path.join(dir, 'lit.cpp'), program);
      const expected = texts.map((t) => Buffer.from(t, 'utf8').toString('hex'));
      // C++11 with trigraphs on (what ??/ would turn into \) and C++17 (no trigraphs).
      for (const flags of [['-std=c++11', '-trigraphs'], ['-std=c++17']]) {
        const exe = path.join(dir, `lit${flags.length}`);
        execFileSync(process.env.CXX ?? 'c++', [...flags, '-Wall', '-Werror', '-o', exe, path.join(dir, 'lit.cpp')], { stdio: 'pipe' });
        expect(execFileSync(exe, { encoding: 'utf8' }).split('\n').slice(0, -1), flags.join(' ')).toEqual(expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kernel ids keep only letters and digits of a name', () => {
  it('every hostile name gives an id of [a-z0-9_], at most 40 characters of slug', () => {
    for (const [what, p] of Object.entries(PAYLOADS)) {
      const u = compileUnit(hostileSpec({ window: 'w', stride: 's', score: 'c', spec: p }));
      expect(u.id, what).toMatch(KERNEL_ID);
    }
    expect(compileUnit(hostileSpec({ window: 'w', stride: 's', score: 'c', spec: '\n*/"' })).id).toMatch(/^kernel_[0-9a-f]{10}$/);
  });
});

describe('names are checked where they are declared (KVF2007)', () => {
  it('control characters, line separators and bidirectional controls are refused at the call', () => {
    for (const bad of ['a\nb', 'a\rb', 'nul\u0000', 'esc\u001b[2J', 'ls\u2028', 'ps\u2029', 'bidi\u202e', 'c1\u0085', '']) {
      const e = (() => {
        try {
          defineMask((b, h, q, k) => k <= q, { name: bad }); // MARK-name
        } catch (x) {
          return x as KvforgeError;
        }
        throw new Error(`${JSON.stringify(bad)} was accepted`);
      })();
      expect(e).toBeInstanceOf(KvforgeError);
      expect(e.code).toBe('KVF2007');
      expect(e.location?.file).toMatch(/injection\.test\.ts$/);
      expect(e.message).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u2028\u2029\u202e\u0085]/);
    }
    expect(() => defineScore((s) => s, { name: 'x\ny' })).toThrow(/KVF2007.*U\+000A at index 1/);
    expect(() => defineAttention({ heads: { q: 1, kv: 1 }, headDim: 8, name: 'x\u2028y' })).toThrow(/KVF2007/);
    expect(() => defineMask((b, h, q, k) => true, { name: 42 as never })).toThrow(/KVF2007.*non-empty string, got 42/);
  });

  it('any other text is a name: quotes, backslashes, */, trigraphs, other scripts, 10^4 characters', () => {
    for (const ok of [PAYLOADS.trailingBackslash!, PAYLOADS.trigraph!, 'a */ b', 'say "hi"', 'caf\u00e9 \u{1f600}', 'n'.repeat(10_000)]) {
      expect(defineMask((b, h, q, k) => k <= q, { name: ok }).name).toBe(ok);
    }
  });
});

describe('every kernel kind renders hostile names inert', () => {
  const slots = ['window', 'stride', 'score', 'spec'] as const;
  for (const kind of KINDS) {
    it(`${kindName(kind)}: each payload as mask, score and spec name, in the run-time and the gen provenance`, () => {
      for (const [what, p] of Object.entries(PAYLOADS)) {
        for (const slot of slots) {
          const n: Names = { window: 'w', stride: 's', score: 'c', spec: 'v', [slot]: p };
          const u = compileUnit(hostileSpec(n), kind);
          for (const source of [renderKernel(u, provenanceOf(u)), renderKernel(u, provenanceOf(u, `${p}#${p}`))]) {
            const problems = injectionProblems(source);
            expect(problems, `${what} as ${slot} name`).toEqual([]);
          }
          // Where the name is printed for humans, it is the literal that means exactly it: the spec
          // name in a run-time compile's provenance, a parameter's function in its field comment.
          const shown = slot === 'spec' ? p : kind.paramMode === 'runtime' && slot === 'window' ? `${p}.w` : kind.paramMode === 'runtime' && slot === 'score' ? `${p}.cap` : undefined;
          if (shown !== undefined) expect(renderKernel(u, provenanceOf(u)).includes(quoteUserText(shown)), `${what} as ${slot} name`).toBe(true);
        }
      }
    });
  }

  // Templates print only view fields; a view with only safe strings cannot print a hostile one.
  it('every string of every backend view model is safe to print into source', () => {
    const strings = (x: unknown): string[] => (typeof x === 'string' ? [x] : x && typeof x === 'object' ? Object.values(x).flatMap(strings) : []);
    for (const kind of KINDS) {
      const u = compileUnit(hostileSpec({ window: joined('trigraph'), stride: PAYLOADS.long!, score: joined('trailingBackslash'), spec: PAYLOADS.newline! }), kind);
      const view = (kind.target === 'cpp' ? cppView : cudaView)(u, provenanceOf(u, joined('trailingBackslash')));
      const unsafe = strings(view).filter((s) => !isSafeText(s));
      expect(unsafe, kindName(kind)).toEqual([]);
    }
  });
});

describe('file paths and export names in `kvforge gen` output', () => {
  it('every payload as file path and export name is inert in every file gen writes', () => {
    const spec = hostileSpec({ window: 'w', stride: 's', score: 'c', spec: 'v' });
    const origins = Object.entries(PAYLOADS).map(([what, p]) => ({
      file: `${p}/${what}.ts`, exportName: p, spec: { ...spec, heads: { q: 2 + Object.keys(PAYLOADS).indexOf(what), kv: 1 } }, plans: KINDS,
    }));
    const set = generate(origins);
    for (const [rel, text] of set.files) {
      if (rel === 'manifest.json') continue;
      expectInert(text);
    }
    // The manifest is JSON: it keeps names exactly (JSON escapes what it must).
    const manifest = JSON.parse(set.files.get('manifest.json')!) as { kernels: Record<string, { source: string }> };
    expect(new Set(Object.values(manifest.kernels).map((k) => k.source))).toEqual(new Set(origins.map((n) => `${n.file}#${n.exportName}`)));
  });

  it('`export { a as "x\\n#error" }` through the CLI gives inert files', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvforge-export-'));
    try {
      // The file's path is hostile too: a quote, a newline and a block comment end in its folder's
      // name (not a backslash: Node refuses to import a path with one).
      const sub = path.join(dir, 'we"ird\n#error path */');
      mkdirSync(sub);
      const file = path.join(sub, 'variants.mts');
      const index = JSON.stringify(path.join(PACKAGE_ROOT, 'index.ts'));
      writeFileSync(file, [
        `import { causal, defineAttention } from ${index};`,
        'const a = defineAttention({ heads: { q: 2, kv: 1 }, headDim: 32, mask: causal });',
        'const b = defineAttention({ heads: { q: 4, kv: 1 }, headDim: 16, mask: causal });',
        'export { a as "x\\n#error injected through an export name", b as "y\\u2028static const int kvf_injected = (__builtin_trap(), 0);" };',
        'export const kernelPlans = { "x\\n#error injected through an export name": [{}, { target: "cuda" }] };', '',
      ].join('\n'));
      const out = path.join(dir, 'out');
      const r = kvforge('gen', file, '--out', out);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { kernels: Record<string, { source: string; files: string[] }> };
      const kernels = Object.values(manifest.kernels);
      expect(kernels.map((k) => k.files[0]!.split('/')[0]).sort()).toEqual(['cpp', 'cpp', 'cuda']);
      expect(kernels.filter((k) => k.source.endsWith('#x\n#error injected through an export name'))).toHaveLength(2);
      expect(kernels.filter((k) => k.source.includes('we"ird\n#error path */variants.mts#y\u2028static'))).toHaveLength(1);
      for (const k of kernels) expectInert(readFileSync(path.join(out, k.files[0]!), 'utf8'));
      // What gen prints to the terminal holds no line break or control of the user's either: one
      // line per kernel (each naming the hostile path), and the summary.
      const lines = r.stdout.split('\n');
      expect(lines.slice(0, 3).every((l) => l.includes('#error path \\052/variants.mts#'))).toBe(true);
      expect(lines.slice(3)).toEqual(['3 kernels written to ' + path.relative(PACKAGE_ROOT, out), '']);
      expect(r.stdout).not.toMatch(/[\u2028\r]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile kernels of every kind build into one addon, run, and do what the user wrote', () => {
  // One kernel per kind keeps the build short. Baked kernels print only the spec name (in their
  // provenance), so it carries every payload; run-time ones also print the window's and the
  // score's function names, one per parameter comment.
  const names: Names = {
    window: PAYLOADS.long!, stride: joined('trigraph'), score: joined('trailingBackslash'), spec: `${PAYLOADS.long!}${joined('trailingBackslash')}`,
  };
  const entries = KINDS.map((plan) => ({ spec: hostileSpec(names), plan }));
  let kernels: Awaited<ReturnType<typeof compile>> = [];

  beforeAll(async () => {
    rmSync(MARKER, { force: true });
    const t0 = performance.now();
    kernels = await compile(entries, { nvcc: false });
    console.log(`hostile addon: ${entries.length} kernels in ${((performance.now() - t0) / 1000).toFixed(1)} s (0 when cached)`);
  });
  afterAll(() => rmSync(MARKER, { force: true }));

  it('the sources compile() built are inert', () => {
    for (const k of kernels) expectInert(renderKernel(k.unit as KernelUnit, provenanceOf(k.unit as KernelUnit)));
    expect(kernels.map((k) => `${k.unit.plan.target} ${k.backend}`)).toEqual(entries.map((e) => (e.plan.target === 'cpp' ? 'cpp cpu' : 'cuda cuda-emu')));
  });

  it('each kernel matches the reference, and no payload ran on load or call', async () => {
    for (const k of kernels) {
      for (const c of [{ B: 1, Lq: 5, Lk: 19, positions: 'default' as const, seed: 3, scale: 1 }, { B: 2, Lq: 3, Lk: 40, positions: 'gaps' as const, seed: 4, scale: 2 }]) {
        await checkCase(k, c);
      }
    }
    expect(existsSync(MARKER)).toBe(false);
  });
});
