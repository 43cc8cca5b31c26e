/**
 * The float64 reference of one layer's KV cache under a policy (semantics.md section 3), for a
 * batch of sequences with Hkv heads each: what the cache kernels are checked against slot for slot
 * (keys, values, positions, counts, lengths), written from the contract and independent of them.
 *
 * A step of sequence b is: append(b, chunk) the new tokens to every head; attend over the cache
 * (attendPolicyCache: the step's queries see the cache before it is cut back, with countBias and
 * the attention mass, which it adds to the slots that track it); then compress(b, phase, probs),
 * which applies the policy. Prefill output is therefore full attention over the prompt, and only
 * the cache is compressed.
 */
import { budgetOf } from '../../../dsl/policy/budget.ts';
import type { CachePolicySpec } from '../../../dsl/policy/policy.ts';
import { referenceWith, type ReferenceVariant } from '../reference.ts';
import { emptyAdaptiveHead, filterDecode, selectHead, type AdaptiveHead, type AdaptiveKind, type HeadProbs } from './adaptive.ts';
import { emptyPyramidHead, pyramidAppend, pyramidCompress, type Phase, type PyramidHead, type Round } from './pyramid.ts';
import { tokenSlot, type RefSlot } from './slots.ts';
import { keepLast, keepSinksAndRecent } from './window.ts';

export interface PolicyCacheShape {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  /** This cache's owner layer k of a model of m layers (the pyramid budget W_k). */
  readonly layer: number;
  readonly layers: number;
  /** Rounding to the storage dtype of what appends and merges store. @defaultValue Math.fround */
  readonly round?: Round;
}

/** A chunk of new tokens of one sequence, token-major: k [n, Hkv, D], v [n, Hkv, Dv]. */
export interface PolicyChunk {
  readonly k: ArrayLike<number>;
  readonly v: ArrayLike<number>;
  readonly positions: ArrayLike<number>;
  /** Token ids (the adaptive policy's special and punctuation lists). */
  readonly ids?: ArrayLike<number>;
}

/** Whether attention calls over this policy's cache must add the attention mass to its slots. */
export function tracksMass(p: CachePolicySpec): boolean {
  if (p.kind === 'pyramid') return p.pooling === 'best' && p.importance === 'mass' && !p.bestVote;
  return p.kind === 'adaptive';
}

type Head = PyramidHead & AdaptiveHead;

export class PolicyCacheRef {
  /** W_k of a pyramid policy. */
  readonly budget: number | undefined;
  private readonly heads: Head[];
  private readonly seen: number[];
  private readonly profiled: boolean[];
  private readonly round: Round;

  constructor(readonly policy: CachePolicySpec, readonly shape: PolicyCacheShape) {
    this.budget = policy.kind === 'pyramid' ? budgetOf(policy, shape.layer, shape.layers) : undefined;
    this.heads = Array.from({ length: shape.batch * shape.kvHeads }, () => ({ ...emptyPyramidHead(), ...emptyAdaptiveHead() }));
    this.seen = new Array<number>(shape.batch).fill(0);
    this.profiled = new Array<boolean>(shape.batch).fill(false);
    this.round = shape.round ?? Math.fround;
  }

  slots(b: number, hk: number): readonly RefSlot[] {
    return this.head(b, hk).slots;
  }

  /** A pyramid head's regions: raw sinks, merged (compressed) slots, raw recent slots. */
  regions(b: number, hk: number): { readonly sinks: number; readonly compressed: number; readonly recent: number } {
    const h = this.head(b, hk);
    if (this.policy.kind !== 'pyramid') return { sinks: 0, compressed: 0, recent: h.slots.length };
    return { sinks: h.sinkCount, compressed: h.compressed, recent: h.slots.length - h.sinkCount - h.compressed };
  }

  /** The adaptive policy each head of b runs ('full' before profiling). */
  kind(b: number, hk: number): AdaptiveKind {
    return this.head(b, hk).kind;
  }

  /** Tokens appended to sequence b so far. */
  tokensSeen(b: number): number {
    return this.seen[b]!;
  }

  /** Per slot logit bias of (b, hk): ln(count) with countBias, else none. */
  bias(b: number, hk: number): Float64Array | undefined {
    const p = this.policy;
    if (p.kind !== 'pyramid' || !p.countBias) return undefined;
    return Float64Array.from(this.slots(b, hk), (s) => Math.log(s.count));
  }

  append(b: number, chunk: PolicyChunk): void {
    const { kvHeads: Hkv, headDim: D, valueDim: Dv } = this.shape;
    const n = chunk.positions.length;
    for (let hk = 0; hk < Hkv; hk++) {
      const h = this.head(b, hk);
      const tokens: RefSlot[] = [];
      for (let i = 0; i < n; i++) {
        // Stored as a cache of the storage dtype stores them (what merges then read).
        const k = Array.from({ length: D }, (_, d) => this.round(chunk.k[(i * Hkv + hk) * D + d]!));
        const v = Array.from({ length: Dv }, (_, d) => this.round(chunk.v[(i * Hkv + hk) * Dv + d]!));
        tokens.push(tokenSlot(k, v, chunk.positions[i]!));
        h.ids.push(chunk.ids ? chunk.ids[i]! : -1);
      }
      if (this.policy.kind === 'pyramid') pyramidAppend(this.policy, h, tokens);
      else h.slots.push(...tokens);
    }
    this.seen[b]! += n;
  }

  /**
   * Apply the policy after a step's attention. `probs` (adaptive, the prompt's prefill): per KV
   * head, the probabilities of its query heads' rows over the prompt's slots.
   */
  compress(b: number, phase: Phase, probs?: readonly (readonly HeadProbs[])[]): void {
    const p = this.policy;
    for (let hk = 0; hk < this.shape.kvHeads; hk++) {
      const h = this.head(b, hk);
      switch (p.kind) {
        case 'full': break;
        case 'sliding': h.slots = keepLast(h.slots, p.window); break;
        case 'sinks': h.slots = keepSinksAndRecent(h.slots, p.sinks, p.windowLength); break;
        case 'pyramid': pyramidCompress(p, h, this.budget!, phase, this.round); break;
        case 'adaptive': {
          if (phase === 'prefill' && !this.profiled[b]) {
            // No probabilities: no attention call read the cache since it was filled (selectHead keeps all).
            const sel = selectHead(p, probs?.[hk] ?? [], h.ids);
            const keep = new Set(sel.kept);
            h.kind = sel.kind, h.promptLength = h.slots.length;
            h.slots = h.slots.filter((_, j) => keep.has(j));
            h.ids = h.ids.filter((_, j) => keep.has(j));
          } else if (p.policyDecode) {
            filterDecode(p, h);
          }
          break;
        }
      }
    }
    if (p.kind === 'adaptive' && phase === 'prefill') this.profiled[b] = true;
  }

  /** Forget sequence b (a finished request). */
  release(b: number): void {
    for (let hk = 0; hk < this.shape.kvHeads; hk++) this.heads[b * this.shape.kvHeads + hk] = { ...emptyPyramidHead(), ...emptyAdaptiveHead() };
    this.seen[b] = 0;
    this.profiled[b] = false;
  }

  private head(b: number, hk: number): Head {
    const h = this.heads[b * this.shape.kvHeads + hk];
    if (!h) throw new RangeError(`no head (${b}, ${hk}) in a cache of ${this.shape.batch} x ${this.shape.kvHeads}`);
    return h;
  }
}

export interface PolicyAttention {
  /** [Hq, n, Dv] and [Hq, n] for the step's n query rows. */
  readonly out: Float64Array;
  readonly lse: Float64Array;
  /** Per KV head, the attention mass each slot received in this call (rows and query heads of its group). */
  readonly mass: readonly Float64Array[];
  /** Per KV head, its query heads' probabilities over its slots. */
  readonly probs: readonly (readonly HeadProbs[])[];
}

/**
 * Attention of sequence b's query rows q [Hq, n, D] at positions qpos over the cache as it is now
 * (semantics section 1 on the slots' positions, plus the policy's logit bias). Adds the mass to
 * the slots when the policy tracks it.
 */
export function attendPolicyCache(variant: ReferenceVariant, cache: PolicyCacheRef, b: number, q: ArrayLike<number>, qpos: ArrayLike<number>): PolicyAttention {
  const { q: Hq, kv: Hkv } = variant.heads;
  const G = Hq / Hkv, D = variant.headDim, Dv = variant.valueDim, n = qpos.length;
  const out = new Float64Array(Hq * n * Dv), lse = new Float64Array(Hq * n);
  const mass: Float64Array[] = [], probs: HeadProbs[][] = [];
  const track = tracksMass(cache.policy);
  for (let hk = 0; hk < Hkv; hk++) {
    const slots = cache.slots(b, hk);
    const L = slots.length;
    const k = new Float32Array(L * D), v = new Float32Array(L * Dv);
    slots.forEach((s, j) => { k.set(s.k, j * D); v.set(s.v, j * Dv); });
    const qg = Float32Array.from({ length: G * n * D }, (_, i) => q[hk * G * n * D + i]!);
    const r = referenceWith({ ...variant, heads: { q: G, kv: 1 } },
      { B: 1, Lq: n, Lk: L, q: qg, k, v, qpos: Int32Array.from(qpos), kpos: Int32Array.from(slots, (s) => s.pos) },
      { bias: cache.bias(b, hk), probs: true, bOffset: b, hOffset: hk * G });
    out.set(r.out, hk * G * n * Dv);
    lse.set(r.lse, hk * G * n);
    const m = new Float64Array(L);
    const hp: HeadProbs[] = [];
    for (let g = 0; g < G; g++) {
      const p = r.probs!.subarray(g * n * L, (g + 1) * n * L);
      hp.push({ rows: n, p });
      for (let i = 0; i < n; i++) for (let j = 0; j < L; j++) m[j] += p[i * L + j]!;
    }
    if (track) slots.forEach((s, j) => { s.mass += m[j]!; });
    mass.push(m);
    probs.push(hp);
  }
  return { out, lse, mass, probs };
}
