/**
 * Generated C++ kernels against the float64 reference: the shipped kernels of configs/, and
 * random variants (random mask and score programs, head counts, head dims, parameter modes) built
 * in one batch so one build serves them all. Outputs and LSE within the one tolerance table;
 * masks compared exactly.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { and, defineAttention, defineMask, defineScore, evaluateMask, or, type AttentionSpec } from '../dsl/index.ts';
import { fuzzCaseArb, fuzzKernel, makeInputs, type FuzzCase } from '../runtime/verify/fuzz.ts';
import { compareArrays, TOLERANCES } from '../runtime/verify/tolerance.ts';
import { referenceAttention, unitReferenceAttention } from '../runtime/verify/reference.ts';
import { configFiles, loadSpecs } from '../codegen/loadSpecs.ts';
import { compileUnit } from '../codegen/pipeline.ts';
import { publicParams } from '../runtime/api/runParams.ts';
import { shippedName } from '../codegen/manifest.ts';
import { makePlan } from '../codegen/planner/plan.ts';
import { CONFIGS_DIR, PACKAGE_ROOT } from '../runtime/build/paths.ts';
import { compile } from '../runtime/api/compile.ts';
import type { CompiledAttention } from '../runtime/api/kernels.ts';
import { loadShipped } from '../runtime/api/shipped.ts';
import { loadAddon } from '../runtime/api/native.ts';
import { maskProgram, paramValues, programToFunction, scoreProgram, type RandomProgram } from './support/random-programs.ts';
import { runs, SEED } from './support/random-expr.ts';
import type { StorageDType, Target } from '../codegen/planner/plan.ts';

const regressions = JSON.parse(readFileSync(new URL('./regressions/fuzz-cases.json', import.meta.url), 'utf8')).cases as FuzzCase[];

async function expectCampaign(k: CompiledAttention, o: Parameters<typeof fuzzKernel>[1]): Promise<void> {
  const r = await fuzzKernel(k, o);
  if (!r.ok) throw new Error(r.failure);
  expect(r.ok).toBe(true);
}

/**
 * A CUDA kernel on a GPU machine runs on the device by default: fuzz the emulator too, and compare
 * the two on the same cases, so every lent device checks the emulator against the hardware.
 * Without a device the kernel already runs on the emulator and this adds nothing.
 */
async function alsoOnEmulator(k: CompiledAttention, o: Parameters<typeof fuzzKernel>[1]): Promise<void> {
  if (k.backend !== 'cuda') {
    expect(k.unit.plan.target === 'cpp' ? 'cpu' : 'cuda-emu').toBe(k.backend);
    return;
  }
  const emu = k.onBackend('cuda-emu');
  await expectCampaign(emu, o);
  const tol = TOLERANCES[k.unit.plan.dtype];
  for (const c of fc.sample(fuzzCaseArb(o.limits), { seed: o.seed, numRuns: 4 })) {
    const x = makeInputs(k, c);
    const [dev, sim] = [await k.run(x), await emu.run(x)];
    const outs = compareArrays(dev.out, sim.out, tol.out);
    const lses = compareArrays(dev.lse, sim.lse, tol.lse);
    if (!outs.ok || !lses.ok) throw new Error(`${k.id}: device and emulator differ on ${JSON.stringify(c)}: ${JSON.stringify(outs.first ?? lses.first)}`);
  }
}

describe(`shipped kernels (configs/) vs the reference (seed ${SEED})`, () => {
  let shipped: Map<string, CompiledAttention>;
  beforeAll(async () => {
    shipped = new Map((await loadShipped()).kernels);
  });
  // Every kernel generated for configs/: C++ on 'cpu', CUDA on the device when one answers and
  // always on the emulator ('cuda-emu'), the same cases for every backend.
  const names = ['causalAttention', 'noDiagonalAttention', 'window256', 'sinksWindow', 'prefixLm', 'softcapCausal',
    'alibiCausal', 'dense', 'causal128', 'window256d256', 'causalAttention@cuda-bf16', 'causalAttention@cuda-f32',
    'window256@cuda-f16', 'softcapCausal@cuda-bf16', 'causal128@cuda-bf16', 'window256d256@cuda-f16',
    // configs/schemes.ts: YOCO's and MixAttention's windowed layers (run-time window, drawn per case).
    'mixAttention.window'];
  it('covers every shipped kernel (a scheme variant that is a configs/ kernel is that kernel)', () => {
    const ids = (ns: Iterable<string>) => [...new Set([...ns].map((n) => shipped.get(n)!.id))].sort();
    expect(ids(names)).toEqual(ids(shipped.keys()));
    expect(new Set(ids(names)).size).toBe(names.length);
  });
  // Shipped kernels carry no spec (they load from generated/manifest.json) and are fuzzed against
  // the IR reference; here the front end is checked through them: for every shipped kernel, the
  // reference running the configs/ spec's own functions equals the one interpreting the
  // manifest's IR, exactly.
  it('the configs/ spec reference equals the manifest IR reference of every shipped kernel', async () => {
    const specs = new Map<string, AttentionSpec>();
    // Run-time parameters take the spec's own values, so both references see the same mask.
    const values = new Map<string, Record<string, number>>();
    for (const f of configFiles(CONFIGS_DIR)) {
      for (const n of await loadSpecs(f, PACKAGE_ROOT)) {
        for (const p of n.plans) {
          const name = shippedName(n.exportName, makePlan(p, n.spec));
          specs.set(name, n.spec);
          values.set(name, Object.fromEntries(publicParams(compileUnit(n.spec, p).params).map((x) => [x.name, x.value!])));
        }
      }
    }
    expect([...specs.keys()].sort()).toEqual([...shipped.keys()].sort());
    for (const [name, k] of shipped) {
      expect(k.spec, name).toBeUndefined();
      for (const c of fc.sample(fuzzCaseArb({ maxB: 2, maxLq: 16, maxLk: 200 }), { seed: SEED, numRuns: 3 })) {
        const x = makeInputs(k, c);
        const [fromSpec, fromIr] = [referenceAttention(specs.get(name)!, x), unitReferenceAttention(k.unit, x, k.unit.runtimeParams.length ? values.get(name) : undefined)];
        for (const part of ['out', 'lse'] as const) {
          const i = fromSpec[part].findIndex((v, j) => !Object.is(v, fromIr[part][j]));
          expect(i, `${name} ${part}[${i}] on ${JSON.stringify(c)}`).toBe(-1);
        }
      }
    }
  });
  for (const name of names) {
    it(name, async () => {
      const k = shipped.get(name)!;
      const o = { runs: runs(k.backend === 'cpu' ? 15 : 8), seed: SEED, examples: regressions };
      await expectCampaign(k, o);
      await alsoOnEmulator(k, o);
    });
  }
});

// Random programs alone rarely relate q and k the way attention masks do; each variant's mask is a
// random structural mask (windows, strides, blocks, sinks, head-dependent patterns) alone or
// combined with a random program through the DSL's and/or.
const small = (min: number, max: number) => fc.integer({ min, max });
const structuralArb: fc.Arbitrary<string> = fc.oneof(
  small(-3, 3).map((c) => `(b, h, q, k) => k <= q + ${c}`),
  small(1, 90).map((w) => `(b, h, q, k) => q - k < ${w} && k <= q`),
  small(1, 5).map((st) => `(b, h, q, k) => k <= q && (q - k) % ${st} === 0`),
  fc.tuple(small(1, 6), small(1, 40)).map(([n, w]) => `(b, h, q, k) => k < ${n} || (k > q - ${w} && k <= q)`),
  small(0, 20).map((w) => `(b, h, q, k) => Math.abs(q - k) <= ${w}`),
  small(1, 33).map((bs) => `(b, h, q, k) => Math.floor(k / ${bs}) <= Math.floor(q / ${bs})`),
  small(2, 4).map((m) => `(b, h, q, k) => (k + h) % ${m} !== 0 && k <= q`),
  small(1, 70).map((sh) => `(b, h, q, k) => b === 1 ? k <= q : q - k < ${sh} && k <= q`),
);

interface RandomVariant {
  readonly structural: string;
  readonly combine: 'alone' | 'and' | 'or';
  readonly mask: RandomProgram;
  readonly maskValues: Record<string, number>;
  readonly score: RandomProgram | null;
  readonly scoreValues: Record<string, number>;
  readonly Hkv: number;
  readonly group: number;
  readonly D: number;
  readonly Dv: number;
  readonly paramMode: 'baked' | 'runtime';
  readonly dtype: StorageDType;
}

const dim = fc.oneof(fc.constantFrom(16, 64, 128, 256), fc.integer({ min: 16, max: 256 }));
// CUDA kernels specialise on head dims that are multiples of 32, with Dv == D.
const cudaDim = fc.constantFrom(64, 128, 256);

function variantArb(target: Target): fc.Arbitrary<RandomVariant> {
  return fc.record({
    structural: structuralArb, combine: fc.constantFrom('alone' as const, 'alone' as const, 'and' as const, 'or' as const),
    mask: maskProgram(), score: fc.option(scoreProgram(), { freq: 3 }),
    Hkv: fc.integer({ min: 1, max: 2 }), group: fc.constantFrom(1, 2, 4, 8),
    D: target === 'cpp' ? dim : cudaDim, Dv: dim,
    paramMode: fc.constantFrom('baked' as const, 'runtime' as const),
    dtype: target === 'cpp' ? fc.constant('f32' as const) : fc.constantFrom('f32' as const, 'f16' as const, 'bf16' as const),
  }).chain((v) => fc.record({
    maskValues: paramValues(v.mask.params), scoreValues: paramValues(v.score?.params ?? {}),
  }).map((vals) => ({ ...v, ...vals, Dv: target === 'cpp' ? v.Dv : v.D })));
}

function variantSpec(v: RandomVariant, i: number, maskOnly: boolean, target: Target): AttentionSpec {
  const structural = defineMask(programToFunction(v.structural) as never, { name: `smask${i}` });
  const program = defineMask(programToFunction(v.mask.source) as never, { name: `rmask${i}`, params: v.mask.params }).with(v.maskValues as never);
  const mask = v.combine === 'alone' ? structural : v.combine === 'and' ? and(structural, program) : or(structural, program);
  const score = v.score && !maskOnly
    ? defineScore(programToFunction(v.score.source) as never, { name: `rscore${i}`, params: v.score.params }).with(v.scoreValues as never)
    : undefined;
  return defineAttention({
    name: `random${i}${maskOnly ? 'mask' : ''}`, heads: { q: v.Hkv * v.group, kv: v.Hkv },
    // The mask-only twin reads its admissible set off one-hot values of width 64.
    headDim: maskOnly && target === 'cuda' ? 64 : v.D, valueDim: maskOnly ? 64 : v.Dv, mask, score,
  });
}

const VARIANTS = Number(process.env.FUZZ_VARIANTS ?? 10);

// The same suite for each backend: C++ kernels, and CUDA kernels (on the device when one answers,
// else the same source on the emulator; the emulator-only build skips nvcc, which cannot run here).
for (const target of ['cpp', 'cuda'] as const) describe(`random ${target} variants (seed ${SEED}, ${VARIANTS} variants)`, () => {
  const variants = fc.sample(variantArb(target), { seed: SEED + (target === 'cuda' ? 1000 : 0), numRuns: VARIANTS });
  let kernels: CompiledAttention[] = [];
  let twins: CompiledAttention[] = [];
  let device = false;
  beforeAll(async () => {
    // One build serves every variant and its mask-only twin.
    const entries = variants.flatMap((v, i) => {
      const plan = { target, paramMode: v.paramMode, dtype: v.dtype };
      return [{ spec: variantSpec(v, i, false, target), plan }, { spec: variantSpec(v, i, true, target), plan }];
    });
    const shippedAddon = loadAddon((await loadShipped()).addon.path);
    device = shippedAddon.deviceReport().cuda.available;
    const ks = await compile(entries, { nvcc: device });
    kernels = variants.map((_, i) => ks[2 * i]!);
    twins = variants.map((_, i) => ks[2 * i + 1]!);
  });

  if (target === 'cuda') {
    it('without a device: only the emulated backend, and why; with one: nvcc-built, on the device, emulator too', () => {
      const r = kernels[0]!.deviceReport();
      if (device) {
        // A GPU machine: this build used nvcc, the kernels run on the device, the emulator stays.
        expect(r.compiledBackends).toEqual(['cpu', 'cuda', 'cuda-emu']);
        expect(r.cuda.compiled && r.cuda.available && r.cuda.emulated).toBe(true);
        expect(r.cuda.devices).toBeGreaterThan(0);
        expect(kernels[0]!.backend).toBe('cuda');
        return;
      }
      expect(r.compiledBackends).toEqual(['cpu', 'cuda-emu']);
      expect(r.cuda.compiled).toBe(false);
      expect(r.cuda.emulated).toBe(true);
      expect(r.cuda.reason).toMatch(/not compiled/);
      expect(kernels[0]!.backend).toBe('cuda-emu');
    });
  }

  variants.forEach((v, i) => {
    const maskText = v.combine === 'alone' ? v.structural : `${v.combine}(${v.structural}, ${v.mask.source.replace(/\s+/g, ' ')})`;
    const title = `#${i} Hq=${v.Hkv * v.group} Hkv=${v.Hkv} D=${v.D} Dv=${v.Dv} ${v.dtype} ${v.paramMode}: ${maskText}${v.score ? ` | ${v.score.source.replace(/\s+/g, ' ')}` : ''}`;

    it(`${title} — outputs and LSE within tolerance`, async () => {
      const o = { runs: runs(5), seed: SEED + i, limits: { maxB: 2, maxLq: 40, maxLk: 160, maxDecodeLk: 600 } };
      await expectCampaign(kernels[i]!, o);
      await alsoOnEmulator(kernels[i]!, o);
    });

    it(`${title} — mask exact`, async () => {
      // q = 0 makes every admissible score 0, so with one-hot values out[row][j] = 1/n exactly
      // for admissible slots j and 0 elsewhere: the kernel's admissible set, read off exactly.
      const twin = twins[i]!;
      const property = fc.asyncProperty(
        fc.record({ B: fc.integer({ min: 1, max: 2 }), Lq: fc.integer({ min: 1, max: 24 }), Lk: fc.integer({ min: 1, max: 64 }),
          positions: fc.constantFrom('default', 'shifted', 'gaps', 'shuffled'), seed: fc.nat(), scale: fc.constant(1) }),
        async (c: FuzzCase) => {
          const x = makeInputs(twin, c);
          const Hq = twin.unit.heads.q;
          const Hkv = twin.unit.heads.kv;
          const vals = new Float32Array(c.B * Hkv * c.Lk * 64);
          for (let bh = 0; bh < c.B * Hkv; bh++) for (let j = 0; j < c.Lk; j++) vals[(bh * c.Lk + j) * 64 + j] = 1;
          const r = await twin.run({ ...x, q: new Float32Array(x.q.length), v: vals });
          const qpos = x.qpos ?? Int32Array.from({ length: c.Lq }, (_, i2) => c.Lk - c.Lq + i2);
          const kpos = x.kpos ?? Int32Array.from({ length: c.Lk }, (_, j) => j);
          for (let b = 0; b < c.B; b++) {
            for (let h = 0; h < Hq; h++) {
              for (let row = 0; row < c.Lq; row++) {
                const at = (b * Hq + h) * c.Lq + row;
                let n = 0;
                for (let j = 0; j < c.Lk; j++) {
                  const want = evaluateMask(twin.spec!.mask!, b, h, qpos[row]!, kpos[j]!);
                  const got = r.out[at * 64 + j]! > 0;
                  if (want !== got) throw new Error(`mask differs at b=${b} h=${h} row=${row} (q=${qpos[row]}) slot=${j} (k=${kpos[j]}): reference ${want}, kernel ${got}`);
                  if (want) n++;
                }
                if (n === 0 && r.lse[at] !== -Infinity) throw new Error(`row b=${b} h=${h} ${row} admits nothing but LSE is ${r.lse[at]}`);
              }
            }
          }
        });
      await fc.assert(property, { seed: SEED + i, numRuns: runs(6) });
    });
  });
});
