/**
 * Invariants of the policy references (semantics.md section 3) on random runs: random policies of
 * every kind and option, random batches, heads, head dims, a prompt then decode steps of random
 * lengths. Fixed seed (FUZZ_SEED, default 42) in every title; fast-check prints the seed and the
 * shrunk run on failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adaptiveCache, policyData } from '../dsl/policy/policy.ts';
import { policyArb } from './support/policy-arbs.ts';
import { attendPolicyCache, PolicyCacheRef } from '../runtime/verify/policy/policyCache.ts';
import type { ReferenceVariant } from '../runtime/verify/reference.ts';
import { runs, SEED } from './support/random-expr.ts';
import { rng } from '../runtime/verify/random.ts';
import { policySlots } from '../codegen/scheme/policySlots.ts';

const runArb = fc.record({
  policy: policyArb,
  B: fc.integer({ min: 1, max: 2 }), Hkv: fc.integer({ min: 1, max: 2 }), G: fc.integer({ min: 1, max: 2 }), D: fc.integer({ min: 1, max: 3 }),
  prompt: fc.integer({ min: 1, max: 12 }),
  steps: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 10 }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
  nanValues: fc.boolean(),
});

/** Seeded quarters in [-2, 2): sums of a few are exact in float64. */
function values(seed: number) {
  const r = rng(seed);
  return () => Math.floor(r() * 16 - 8) / 4;
}

describe('cache policy references: invariants on random runs', () => {
  it(`hold for every policy, prompt and decode steps (seed ${SEED})`, () => {
    fc.assert(fc.property(runArb, (r) => {
      const { policy: p, B, Hkv, G, D } = r;
      const variant: ReferenceVariant = { heads: { q: Hkv * G, kv: Hkv }, headDim: D, valueDim: D, scale: 0.5, admits: (_b, _h, q, k) => k <= q };
      const cache = new PolicyCacheRef(p, { batch: B, kvHeads: Hkv, headDim: D, valueDim: D, layer: 0, layers: 1 });
      const next = values(r.seed);
      // tokens[b][hk]: every token appended, for the "full", "sinks untouched" and "recent" checks.
      const tokens = Array.from({ length: B }, () => Array.from({ length: Hkv }, () => [] as { k: number[]; pos: number }[]));
      const literal = p.kind === 'pyramid' && p.mergeLiteralDecode;
      for (let b = 0; b < B; b++) {
        for (const [si, n] of [r.prompt, ...r.steps].entries()) {
          const phase = si === 0 ? 'prefill' : 'decode';
          const seen = cache.tokensSeen(b);
          const positions = Array.from({ length: n }, (_, i) => seen + i);
          const k = Array.from({ length: n * Hkv * D }, next);
          const v = Array.from({ length: n * Hkv * D }, () => (r.nanValues && next() > 1.5 ? NaN : next()));
          for (let i = 0; i < n; i++) for (let hk = 0; hk < Hkv; hk++) tokens[b]![hk]!.push({ k: k.slice((i * Hkv + hk) * D, (i * Hkv + hk + 1) * D), pos: seen + i });
          cache.append(b, { k, v, positions, ids: positions.map(() => Math.floor((next() + 2) * 1.5)) });
          const q = Array.from({ length: Hkv * G * n * D }, next);
          const att = attendPolicyCache(variant, cache, b, q, positions);
          // Every row admits at least its own token: the mass of a call sums to G x rows per KV head.
          for (let hk = 0; hk < Hkv; hk++) {
            const total = att.mass[hk]!.reduce((a, x) => a + x, 0);
            expect(Math.abs(total - G * n)).toBeLessThan(1e-9);
          }
          cache.compress(b, phase, att.probs);
          const all = cache.tokensSeen(b);
          for (let hk = 0; hk < Hkv; hk++) {
            const slots = cache.slots(b, hk);
            const toks = tokens[b]![hk]!;
            const pos = slots.map((s) => s.pos);
            // Positions strictly increase per head. The literal decode (a raw copy of the sinks in
            // front of pairs pooled from the whole cache, sinks included) keeps them non-decreasing
            // after the sinks only.
            const front = literal ? Math.min(p.sinks, pos.length) : 0;
            for (let j = 1; j < pos.length; j++) {
              if (literal && j === front) continue;
              expect(literal && j > front ? pos[j]! >= pos[j - 1]! : pos[j]! > pos[j - 1]!).toBe(true);
            }
            for (const s of slots) expect(s.count >= 1 && Number.isInteger(s.count)).toBe(true);
            const raw = (s: { k: Float64Array; pos: number; count: number }, t: { k: number[]; pos: number }) => s.count === 1 && s.pos === t.pos && [...s.k].every((x, d) => Object.is(x, t.k[d]));
            switch (p.kind) {
              case 'full':
                expect(slots.length).toBe(all);
                slots.forEach((s, j) => expect(raw(s, toks[j]!)).toBe(true));
                break;
              case 'sliding':
                expect(slots.length).toBe(Math.min(all, p.window));
                slots.forEach((s, j) => expect(raw(s, toks[all - slots.length + j]!)).toBe(true));
                break;
              case 'sinks': {
                expect(slots.length).toBe(Math.min(all, p.windowLength));
                const front = Math.min(p.sinks, slots.length);
                slots.forEach((s, j) => expect(raw(s, j < front ? toks[j]! : toks[all - slots.length + j]!)).toBe(true));
                break;
              }
              case 'pyramid': {
                const sinks = Math.min(p.sinks, all);
                for (let j = 0; j < sinks; j++) expect(raw(slots[j]!, toks[j]!)).toBe(true);
                const reg = cache.regions(b, hk);
                expect(reg.sinks).toBe(sinks);
                // The recent region is raw, the last tokens seen, and never above W after a step.
                expect(reg.recent).toBeLessThanOrEqual(cache.budget!);
                for (let j = 0; j < reg.recent; j++) expect(raw(slots[slots.length - 1 - j]!, toks[all - 1 - j]!)).toBe(true);
                const counted = slots.slice(sinks).reduce((a, s) => a + s.count, 0);
                if (!literal) {
                  // Counts sum to the tokens seen; a merged slot stands for older tokens than any recent one.
                  expect(counted + sinks).toBe(all);
                  expect(slots.length).toBe(sinks + reg.compressed + reg.recent);
                } else {
                  // The literal decode merges the sinks again: counts can only exceed the tokens seen.
                  expect(counted + sinks).toBeGreaterThanOrEqual(all);
                }
                if (p.pooling === 'mean' && !r.nanValues) for (const s of slots) for (const x of s.k) expect(Number.isFinite(x)).toBe(true);
                break;
              }
              case 'adaptive': {
                // Kept slots are tokens of this sequence, raw, in order; the head is never longer than what it saw.
                expect(slots.length).toBeLessThanOrEqual(all);
                for (const s of slots) expect(raw(s, toks[s.pos]!)).toBe(true);
                if (!p.policyDecode && phase === 'decode') {
                  const last = slots.slice(slots.length - n).map((s) => s.pos);
                  expect(last).toEqual(positions);
                }
                break;
              }
            }
          }
        }
      }
    }), { seed: SEED, numRuns: runs(400) });
  });

  it(`a T = 1 adaptive policy under the mass rule keeps every prompt token (seed ${SEED})`, () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 2 ** 30 }), (n, seed) => {
      const next = values(seed);
      const variant: ReferenceVariant = { heads: { q: 2, kv: 1 }, headDim: 2, valueDim: 2, scale: 1, admits: (_b, _h, q, k) => k <= q };
      const c = new PolicyCacheRef(adaptiveCache({ T: 1, rF: 0, rL: 0 }), { batch: 1, kvHeads: 1, headDim: 2, valueDim: 2, layer: 0, layers: 1 });
      const positions = Array.from({ length: n }, (_, i) => i);
      c.append(0, { k: Array.from({ length: 2 * n }, next), v: Array.from({ length: 2 * n }, next), positions, ids: positions.map(() => 0) });
      c.compress(0, 'prefill', attendPolicyCache(variant, c, 0, Array.from({ length: 4 * n }, next), positions).probs);
      expect(c.slots(0, 0).map((s) => s.pos)).toEqual(positions);
    }), { seed: SEED, numRuns: runs(100) });
  });
});

describe('memory figures under policies', () => {
  it(`count what the reference holds after decode steps (seed ${SEED})`, () => {
    fc.assert(fc.property(policyArb, fc.integer({ min: 1, max: 40 }), (p, C) => {
      const c = new PolicyCacheRef(p, { batch: 1, kvHeads: 1, headDim: 1, valueDim: 1, layer: 0, layers: 1 });
      const variant: ReferenceVariant = { heads: { q: 1, kv: 1 }, headDim: 1, valueDim: 1, scale: 1, admits: (_b, _h, q, k) => k <= q };
      for (let t = 0; t < C; t++) {
        c.append(0, { k: [t % 3], v: [t], positions: [t], ids: [t % 4] });
        const att = attendPolicyCache(variant, c, 0, [1], [t]);
        c.compress(0, t === 0 ? 'prefill' : 'decode', att.probs);
      }
      const held = c.slots(0, 0).length;
      const budget = p.kind === 'pyramid' ? c.budget : undefined;
      if (p.kind === 'adaptive') expect(held).toBeLessThanOrEqual(policySlots(policyData(p), budget, C));
      else expect(held).toBe(policySlots(policyData(p), budget, C));
    }), { seed: SEED, numRuns: runs(300) });
  });
});
