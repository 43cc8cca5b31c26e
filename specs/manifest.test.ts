/**
 * generated/manifest.json carries each kernel's unit data: it must come back exactly as written
 * (every number by Object.is: -0 in the IR or a parameter, and the infinities and NaN the JSON
 * form boxes), and anything malformed or foreign is KVF4012 naming the field.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { defineAttention, defineMask, defineScore } from '../dsl/index.ts';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { E, type Expr } from '../codegen/ir/expr.ts';
import { parseData, stringifyData } from '../codegen/json.ts';
import { GENERATOR, MANIFEST, manifestText, readManifest, type ManifestKernel } from '../codegen/manifest.ts';
import { bindParams } from '../codegen/passes/bindParams.ts';
import { compileUnit } from '../codegen/pipeline.ts';
import { makePlan } from '../codegen/planner/plan.ts';
import { kernelFile, shippedUnit, type KernelUnitData } from '../codegen/unit.ts';
import { GENERATED_DIR } from '../runtime/build/paths.ts';
import { caught } from './support/caught.ts';
import { maskExprArb, runs, SEED } from './support/random-expr.ts';
import { maskProgram, paramValues, programToFunction, scoreProgram } from './support/random-programs.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Write `text` as a folder's manifest.json and read it back as the runtime does. */
function throughManifest(text: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvforge-manifest-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, MANIFEST), text);
  return readManifest(dir);
}

function manifestOf(kernels: readonly ManifestKernel[]): string {
  return manifestText(kernels, kernels.flatMap((k) => k.files));
}

/** The first path where `a` and `b` differ (numbers by Object.is; a key holding undefined is absent), else ''. */
function difference(a: unknown, b: unknown, at = '$'): string {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b) ? '' : `${at}: ${String(a)} vs ${String(b)}`;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b ? '' : `${at}: ${String(a)} vs ${String(b)}`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${at}: array vs object`;
  const keys = (o: object) => Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined).sort();
  if (keys(a).join() !== keys(b).join()) return `${at}: keys ${keys(a).join()} vs ${keys(b).join()}`;
  for (const k of keys(a)) {
    const d = difference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
    if (d) return d;
  }
  return '';
}

// Float IR with constants from every double: -0, subnormals, huge values, the infinities and NaN.
const floatExprArb: fc.Arbitrary<Expr> = fc.letrec<{ f: Expr }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(E.score()),
    fc.double().map(E.float),
    fc.constantFrom(-0, Number.MIN_VALUE, -Number.MAX_VALUE, Infinity, -Infinity, NaN).map(E.float),
    fc.constant(E.unary('toFloat', E.param('w', 'int'))),
    fc.tuple(fc.constantFrom('neg', 'abs', 'tanh', 'exp', 'log', 'sqrt', 'floor' as const), tie('f')).map(([fn, a]) => E.unary(fn, a)),
    fc.tuple(fc.constantFrom('add', 'sub', 'mul', 'div', 'min', 'max' as const), tie('f'), tie('f')).map(([fn, a, b]) => E.binary(fn, a, b)),
    fc.tuple(maskExprArb, tie('f'), tie('f')).map(([c, a, b]) => E.select(c, a, b)),
  ),
})).f;

/** A kernel entry around random IR: run-time parameters `w`, `d` (int) and `f` (float), or the same baked. */
const kernelArb: fc.Arbitrary<ManifestKernel> = fc.record({
  mask: fc.option(maskExprArb, { freq: 4 }), score: fc.option(floatExprArb, { freq: 4 }), runtime: fc.boolean(),
  values: fc.record({ w: fc.integer({ min: -300, max: 300 }), d: fc.integer({ min: 1, max: 9 }), f: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  scale: fc.double({ noNaN: true, noDefaultInfinity: true }), n: fc.integer({ min: 0, max: 2 ** 30 }),
}).map(({ mask, score, runtime, values, scale, n }) => {
  const plan = makePlan({ paramMode: runtime ? 'runtime' : 'baked' });
  const slots = (['w', 'd', 'f'] as const).map((name) => ({ name, type: name === 'f' ? 'float' as const : 'int' as const, origin: `fn.${name}` }));
  const params = runtime ? slots : slots.map((s) => ({ ...s, value: values[s.name] }));
  const bind = (e: Expr | null) => (e === null ? undefined : runtime ? e : bindParams(e, values));
  const id = `random_${n.toString(16).padStart(10, '0')}`;
  const unit: KernelUnitData = {
    id, name: `random ${n}`, specHash: n.toString(16).padStart(16, '0'), plan, heads: { q: 4, kv: 2 }, headDim: 16, valueDim: 8,
    scale, mask: bind(mask), score: bind(score), params, runtimeParams: runtime ? params : [],
  };
  return { ...unit, source: `random.ts#k${n}`, shipped: [`k${n}`], files: [kernelFile(unit)] };
});

describe(`manifest encoding round-trips unit data exactly (seed ${SEED})`, () => {
  it('stringifyData / parseData keep every number, -0, NaN and the infinities included', () => {
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.double(), fc.string(), fc.boolean(), fc.constant(null),
        fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string().filter((k) => k !== '$num' && k !== '__proto__'), tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(fc.property(value, (v) => {
      expect(difference(parseData(stringifyData(v)), v)).toBe('');
    }), { seed: SEED, numRuns: runs(300) });
    expect(stringifyData({ x: -0 }, 0)).toBe('{"x":{"$num":"-0"}}');
  });

  it('random mask and score IR through manifest.json: every number by Object.is', () => {
    fc.assert(fc.property(fc.uniqueArray(kernelArb, { minLength: 1, maxLength: 3, selector: (k) => k.id }), (kernels) => {
      const back = throughManifest(manifestOf(kernels));
      const sorted = [...kernels].sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(difference(back.kernels, sorted)).toBe('');
    }), { seed: SEED, numRuns: runs(200) });
  });

  it('units compiled from random mask and score programs (front end) come back as shipped', () => {
    const specArb = fc.record({ mask: maskProgram(), score: scoreProgram(), runtime: fc.boolean() }).chain((v) => fc.record({
      maskValues: paramValues(v.mask.params), scoreValues: paramValues(v.score.params),
    }).map((vals) => ({ ...v, ...vals })));
    fc.assert(fc.property(specArb, ({ mask, score, runtime, maskValues, scoreValues }) => {
      const spec = defineAttention({
        heads: { q: 2, kv: 1 }, headDim: 16,
        mask: defineMask(programToFunction(mask.source) as never, { name: 'rmask', params: mask.params }).with(maskValues as never),
        score: defineScore(programToFunction(score.source) as never, { name: 'rscore', params: score.params }).with(scoreValues as never),
      });
      let unit;
      try {
        unit = compileUnit(spec, { paramMode: runtime ? 'runtime' : 'baked' });
      } catch (e) {
        // A program the generator refuses (a literal float32 cannot hold, a divisor bound to 0).
        if (e instanceof KvforgeError) fc.pre(false);
        throw e;
      }
      const entry = { ...shippedUnit(unit), source: 'random.ts#v', shipped: ['v'], files: [kernelFile(unit)] };
      expect(difference(throughManifest(manifestOf([entry])).kernels[0], entry)).toBe('');
      if (runtime) expect(entry.params.every((p) => p.value === undefined)).toBe(true);
    }), { seed: SEED, numRuns: runs(40) });
  });

  it("generated/manifest.json reads back: kvforge's own format, every shipped kernel", () => {
    const m = readManifest(GENERATED_DIR);
    expect(m.kernels.length).toBe(17);
    expect(m.files).toEqual(m.kernels.flatMap((k) => k.files).sort());
  });
});

describe('a malformed or foreign manifest is KVF4012 naming the field', () => {
  const base = fc.sample(kernelArb.filter((k) => k.mask !== undefined && k.plan.paramMode === 'runtime'), { seed: SEED, numRuns: 1 })[0]!;
  const text = manifestOf([base]);
  const edited = (edit: (m: { generator: unknown; files: unknown[]; kernels: Record<string, Record<string, unknown>> }) => void): string => {
    const m = JSON.parse(text);
    edit(m);
    return JSON.stringify(m);
  };
  const at = `kernels.${base.id}`;
  const cases: ReadonlyArray<[string, string, RegExp]> = [
    ['missing', '', /manifest\.json is missing/],
    ['not JSON', '{"generator": ', /is not JSON/],
    ['foreign', JSON.stringify({ name: 'my-app', version: '1.0.0' }), /generator is missing: the file was not written by kvforge gen/],
    ['older format', edited((m) => { m.generator = 'kvforge-codegen 2'; }), /generator is 'kvforge-codegen 2', an older format that records no kernel data/],
    ['plan field', edited((m) => { delete (m.kernels[base.id]!.plan as Record<string, unknown>).tileQ; }), new RegExp(`${at}\\.plan must list every field, and lacks tileQ`)],
    ['plan value', edited((m) => { (m.kernels[base.id]!.plan as Record<string, unknown>).dtype = 'f64'; }), new RegExp(`${at}\\.plan dtype must be one of`)],
    ['heads', edited((m) => { m.kernels[base.id]!.heads = { q: 3, kv: 2 }; }), new RegExp(`${at}\\.heads has q = 3, not a multiple of kv = 2`)],
    ['IR op', edited((m) => { (m.kernels[base.id]!.mask as Record<string, unknown>).op = 'call'; }), new RegExp(`${at}\\.mask\\.op must be an IR node`)],
    ['IR type', edited((m) => { (m.kernels[base.id]!.mask as Record<string, unknown>).type = 'int'; }), new RegExp(`${at}\\.mask\\.type must be 'bool'`)],
    ['param value in run-time mode', edited((m) => { (m.kernels[base.id]!.params as Array<Record<string, unknown>>)[0]!.value = 64; }), new RegExp(`${at}\\.params\\[0\\]\\.value must be absent`)],
    ['runtimeParams', edited((m) => { m.kernels[base.id]!.runtimeParams = []; }), new RegExp(`${at}\\.runtimeParams must be \\["w","d","f"\\]`)],
    ['files', edited((m) => { m.files = ['cpp/other_0123456789.cpp']; }), /files lists 1 files, but its kernels list 1/],
    ['kernel files', edited((m) => { m.kernels[base.id]!.files = ['../x.cpp']; }), new RegExp(`${at}\\.files must be \\["cpp/${base.id}\\.cpp"\\]`)],
  ];
  it.each(cases)('%s', (_what, manifest, message) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvforge-manifest-'));
    dirs.push(dir);
    if (manifest) writeFileSync(path.join(dir, MANIFEST), manifest);
    const e = caught(() => readManifest(dir));
    expect(e.code).toBe('KVF4012');
    expect(e.message).toContain(path.join(dir, MANIFEST));
    expect(e.message).toMatch(message);
    expect(e.hint).toContain('kvforge gen');
  });

  it('the unedited text reads back, and says its generator', () => {
    expect(JSON.parse(text).generator).toBe(GENERATOR);
    expect(throughManifest(text).kernels.map((k) => k.id)).toEqual([base.id]);
  });
});
