/**
 * A module's `kernelPlans` export is checked where it is read (codegen/loadSpecs.ts): every bad
 * shape is KVF4004 naming the export and index, never a TypeError inside kvforge reported as a bug,
 * and never a silently ignored entry (a typo in an export name would drop the user's kernels).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpecs } from '../codegen/loadSpecs.ts';
import { caughtAsync } from './support/caught.ts';

const DIR = fileURLToPath(new URL('./.scratch/kernel-plans/', import.meta.url));
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

let n = 0;
function moduleWith(plans: string): string {
  const file = path.join(DIR, `m${n++}.ts`);
  writeFileSync(file, `import { causal, defineAttention } from '../../../dsl/index.ts';
export const a = defineAttention({ heads: { q: 2, kv: 1 }, headDim: 32, mask: causal });
export const helper = 3;
export const kernelPlans = ${plans};
`);
  return file;
}


describe('kernelPlans', () => {
  it.each([
    ['a number', '7', /must be an object of plan lists/],
    ['an array', '[{}]', /must be an object of plan lists/],
    ['a plan list that is an object', '{ a: {} }', /kernelPlans\.a must be an array/],
    ['a string', "{ a: 'x' }", /kernelPlans\.a must be an array/],
    ['an empty list', '{ a: [] }', /kernelPlans\.a lists no plan/],
    ['a typo in the export name', '{ zz: [{}] }', /kernelPlans\.zz names no exported attention variant or scheme[\s\S]*exported variants and schemes: a/],
    ['an export that is not a variant', '{ helper: [{}] }', /'helper' is exported but is neither a defineAttention/],
    ['null as a plan', '{ a: [null] }', /kernelPlans\.a\[0\] must be a plan object/],
    ['an array as a plan', '{ a: [[]] }', /kernelPlans\.a\[0\] must be a plan object/],
    ['a getter in a plan', "{ a: [{ get target() { throw new Error('x'); } }] }", /kernelPlans\.a\[0\]\.target is a getter/],
    ['a misspelt plan field', "{ a: [{ tragte: 'cuda' }] }", /kernelPlans\.a\[0\]: kernel plan: unknown field/],
    ['a bad dtype', "{ a: [{ target: 'cuda', dtype: 'f8' }] }", /kernelPlans\.a\[0\]: kernel plan: dtype/],
  ])('%s is KVF4004 naming where', async (_what, plans, message) => {
    const e = await caughtAsync(() => loadSpecs(moduleWith(plans)));
    expect(e.code).toBe('KVF4004');
    expect(e.message).toMatch(message);
  });

  it('good plans are read as written', async () => {
    const specs = await loadSpecs(moduleWith("{ a: [{}, { target: 'cuda', dtype: 'bf16' }] }"));
    expect(specs.map((s) => [s.exportName, s.plans])).toEqual([['a', [{}, { target: 'cuda', dtype: 'bf16' }]]]);
  });
});
