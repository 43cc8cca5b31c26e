/**
 * The schemes of generated/manifest.json: every scheme of configs/schemes.ts, its declaration,
 * its plan (what compileScheme gives) and the ids of its variants' kernels; a tampered entry is
 * KVF4012 naming the field. A scheme's variants share kernels with configs/ variants of the same
 * attention: LCKV's causal kernel is configs/builtins.ts's causal kernel.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MANIFEST, readManifest } from '../codegen/manifest.ts';
import { compileScheme } from '../codegen/scheme/compileScheme.ts';
import { GENERATED_DIR } from '../runtime/build/paths.ts';
import * as schemes from '../configs/schemes.ts';
import { caught } from './support/caught.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('schemes in generated/manifest.json', () => {
  const m = readManifest(GENERATED_DIR);
  it('every scheme of configs/schemes.ts, with its plan and kernels', () => {
    expect(m.schemes.map((s) => s.exportName)).toEqual(Object.keys(schemes).sort());
    for (const s of m.schemes) {
      const spec = schemes[s.exportName as keyof typeof schemes];
      expect(s.source).toBe(`configs/schemes.ts#${s.exportName}`);
      expect(s.plan).toEqual(JSON.parse(JSON.stringify(compileScheme(spec))));
      for (const v of s.plan.variants) {
        for (const id of s.kernels[v.key]!) {
          const k = m.kernels.find((x) => x.id === id)!;
          expect(k.shipped).toContain(`${s.exportName}.${v.key}`);
          expect(k.plan.paramMode).toBe(v.windows ? 'runtime' : 'baked');
        }
      }
    }
  });
  it("kernels are shared: LCKV's and the standard scheme's causal variant is configs/builtins' causal kernel", () => {
    const lckv = m.schemes.find((s) => s.exportName === 'lckvW2')!;
    const std = m.schemes.find((s) => s.exportName === 'standardScheme')!;
    const causal = m.kernels.find((k) => k.shipped.includes('causalAttention') && k.plan.target === 'cpp')!;
    expect(lckv.kernels.causal).toEqual([causal.id]);
    expect(std.kernels.causal).toEqual([causal.id]);
    const noDiag = m.kernels.find((k) => k.shipped.includes('noDiagonalAttention'))!;
    expect(lckv.kernels.noDiagonal).toEqual([noDiag.id]);
  });
});

describe('a tampered scheme entry is KVF4012 naming the field', () => {
  const text = readFileSync(path.join(GENERATED_DIR, MANIFEST), 'utf8');
  const edited = (edit: (m: { schemes: Record<string, any> }) => void): string => {
    const m = JSON.parse(text);
    edit(m);
    return JSON.stringify(m);
  };
  const cases: ReadonlyArray<[string, string, RegExp]> = [
    ['no schemes', edited((m) => { delete (m as { schemes?: unknown }).schemes; }), /schemes must be an object, got missing/],
    ['declaration', edited((m) => { m.schemes.lckvW2.declaration.table[3].keysFrom = 99; }), /schemes\.lckvW2\.declaration is not a valid scheme: kv\[3\]: keysFrom must be a layer index in 0\.\.21, got 99/],
    ['plan', edited((m) => { m.schemes.lckvW2.plan.caches[0].retention = { kind: 'window', window: 4 }; }), /schemes\.lckvW2\.plan differs from the plan of its declaration/],
    ['declaration and plan disagree', edited((m) => { m.schemes.cla2.declaration.table[1] = { keysFrom: 1, valuesFrom: 1, sliding: false }; }), /schemes\.cla2\.plan differs/],
    ['kernel id', edited((m) => { m.schemes.yocoScheme.kernels.window = ['window_0000000000']; }), /schemes\.yocoScheme\.kernels\.window names 'window_0000000000', which is not a kernel of the manifest/],
    ['variant list', edited((m) => { delete m.schemes.yocoScheme.kernels.window; }), /schemes\.yocoScheme\.kernels must list the variants \["causal","window"\]/],
    ['no kernel', edited((m) => { m.schemes.yocoScheme.kernels.causal = []; }), /schemes\.yocoScheme\.kernels\.causal lists no kernel/],
    ['overrides', edited((m) => { m.schemes.lckvW2.plan.overrides.scale = 'x'; }), /schemes\.lckvW2\.plan\.overrides\.scale must be a finite number/],
  ];
  it.each(cases)('%s', (_what, manifest, message) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvforge-manifest-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, MANIFEST), manifest);
    const e = caught(() => readManifest(dir));
    expect(e.code).toBe('KVF4012');
    expect(e.message).toMatch(message);
  });
  it('a kernel of another shape', () => {
    const m = JSON.parse(text);
    const other = Object.keys(m.kernels).find((id) => m.kernels[id].headDim === 128)!;
    m.schemes.lckvW2.kernels.causal = [other];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvforge-manifest-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, MANIFEST), JSON.stringify(m));
    expect(caught(() => readManifest(dir)).message).toMatch(/whose shape is not the scheme's/);
  });
});
