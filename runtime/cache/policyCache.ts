/**
 * A KV cache under a compression policy (semantics.md section 3), on the native cache ops: the
 * runtime side of what runtime/verify/policy/ specifies in float64.
 *
 * One step of sequence b: `append(b, chunk)` (token ids with it for the adaptive policy), then
 * attention over `cache` (the kernels read it in place; a cache that tracks mass has every call add
 * the attention mass to its slots, and with countBias every call adds ln(count) to its scores),
 * then `compress(phase)`, which applies the policy to every sequence that took tokens since the last
 * compress. The step's queries therefore see the cache before it is cut back, and prefill output is
 * full attention over the prompt.
 *
 * Host-side bookkeeping, per (sequence, KV head): the raw sinks and the merged (compressed) region
 * of the pyramid policy, the token ids and prompt length of the adaptive one. The decisions (which
 * slots to keep, which regions to merge) are made here from lengths, ids and the slots' masses;
 * the data moves in the native ops (KvCache.compact, KvCache.merge).
 *
 * Runs on CPU caches; CUDA caches refuse the policy ops (KVF3010) until their kernels exist. The
 * adaptive policy's recoveryMaxError mode needs every prompt row's probabilities, which the
 * kernels do not output: it runs in the reference only (KVF2012 here).
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { budgetOf } from '../../dsl/policy/budget.ts';
import type { AdaptivePolicy, CachePolicySpec, PyramidPolicy } from '../../dsl/policy/policy.ts';
import type { CacheOptions, Chunk, KvCache, MergePooling } from './kvCache.ts';

export type PolicyPhase = 'prefill' | 'decode';
export type AdaptiveHeadKind = 'special' | 'punctuation' | 'frequency' | 'locality' | 'full' | 'none';
const ORDER: readonly AdaptiveHeadKind[] = ['special', 'punctuation', 'frequency', 'locality', 'full'];

/** What the cache must keep per slot for a policy. */
export function slotStatsFor(p: CachePolicySpec): CacheOptions['slotStats'] {
  if (p.kind === 'pyramid') return { countBias: p.countBias, mass: p.pooling === 'best' && p.importance === 'mass' && !p.bestVote };
  if (p.kind === 'adaptive') return { mass: true };
  return undefined;
}

function poolingOf(p: PyramidPolicy): MergePooling {
  if (p.bestVote) return 'bestVote';
  if (p.pooling === 'best') return p.importance === 'keyNorm' ? 'bestKeyNorm' : 'bestMass';
  return p.pooling;
}

export interface PolicyCacheOptions {
  /** The cache's owner layer k of a model of `layers` (the pyramid budget W_k). @defaultValue 0 of 1 */
  readonly layer?: number;
  readonly layers?: number;
}

export class PolicyCache {
  /** W_k of a pyramid policy. */
  readonly budget: number | undefined;
  readonly #sinkCount: Int32Array;
  readonly #compressed: Int32Array;
  readonly #seen: Float64Array;
  readonly #touched: Uint8Array;
  readonly #profiled: Uint8Array;
  /** Adaptive: per head, the token id of each slot, its policy, the prompt length. */
  readonly #ids: number[][];
  readonly #kind: AdaptiveHeadKind[];
  readonly #prompt: Int32Array;

  constructor(readonly cache: KvCache, readonly policy: CachePolicySpec, o: PolicyCacheOptions = {}) {
    const layers = o.layers ?? 1, layer = o.layer ?? 0;
    this.budget = policy.kind === 'pyramid' ? budgetOf(policy, layer, layers) : undefined;
    const want = slotStatsFor(policy);
    if (want && (!cache.hasStats || cache.countBias !== (want.countBias === true) || cache.tracksMass !== (want.mass === true))) {
      throw new KvforgeError('KVF3010', `a ${policy.kind} policy needs a cache created with slotStats ${JSON.stringify(want)}`, {
        hint: 'create it with createPolicyCache(kernel, policy, options)',
      });
    }
    if (policy.kind === 'adaptive' && policy.recovery === 'recoveryMaxError') {
      throw new KvforgeError('KVF2012', "adaptive recovery 'recoveryMaxError' compares every prompt row's renormalised probabilities, which the kernels do not output: it runs in the reference (PolicyCacheRef) only", {
        hint: "recovery: 'mass' (the default) needs only the attention mass the kernels compute",
      });
    }
    const H = cache.batch * cache.kvHeads;
    this.#sinkCount = new Int32Array(H);
    this.#compressed = new Int32Array(H);
    this.#seen = new Float64Array(cache.batch);
    this.#touched = new Uint8Array(cache.batch);
    this.#profiled = new Uint8Array(cache.batch);
    this.#ids = Array.from({ length: H }, () => []);
    this.#kind = new Array<AdaptiveHeadKind>(H).fill('full');
    this.#prompt = new Int32Array(H);
  }

  /** Append tokens to sequence `seq` (token ids: the adaptive policy's special and punctuation lists). */
  append(seq: number, chunk: Chunk, ids?: ArrayLike<number>): void {
    const n = chunk?.positions?.length ?? 0;
    if (this.policy.kind === 'adaptive' && (!ids || ids.length !== n)) {
      throw new KvforgeError('KVF3002', `the adaptive policy needs the token id of each appended token: ${n}, received ${ids ? ids.length : 'none'}`);
    }
    this.cache.append(seq, chunk);
    this.noteAppended(seq, ids ?? new Int32Array(n).fill(-1));
  }

  /**
   * Record tokens that were appended to `cache` directly (the executor's native decode step and its
   * prefill fill the KvCache themselves): `ids` are their token ids, in order.
   */
  noteAppended(seq: number, ids: ArrayLike<number>): void {
    const n = ids.length, Hkv = this.cache.kvHeads;
    for (let h = 0; h < Hkv; h++) {
      const hd = seq * Hkv + h;
      if (this.policy.kind === 'pyramid') this.#sinkCount[hd] = Math.min(this.policy.sinks, this.#sinkCount[hd]! + n);
      // Token ids matter to the adaptive policy only (its special and punctuation lists).
      if (this.policy.kind === 'adaptive') for (let i = 0; i < n; i++) this.#ids[hd]!.push(ids[i]!);
    }
    this.#seen[seq] = this.#seen[seq]! + n;
    this.#touched[seq] = 1;
  }

  /** Free sequence `seq` (KvCache.release) and forget what the policy knew of it. */
  release(seq: number): void {
    this.cache.release(seq);
    const Hkv = this.cache.kvHeads;
    for (let h = 0; h < Hkv; h++) {
      const hd = seq * Hkv + h;
      this.#sinkCount[hd] = 0, this.#compressed[hd] = 0, this.#ids[hd] = [], this.#kind[hd] = 'full', this.#prompt[hd] = 0;
    }
    this.#seen[seq] = 0, this.#touched[seq] = 0, this.#profiled[seq] = 0;
  }

  /** Tokens appended to `seq` so far. */
  tokensSeen(seq: number): number {
    return this.#seen[seq]!;
  }

  /** A pyramid head's regions (sinks, merged, raw recent), or the adaptive head's policy. */
  regions(seq: number, head: number): { sinks: number; compressed: number; recent: number } {
    const hd = seq * this.cache.kvHeads + head, len = this.cache.lengths()[hd]!;
    return { sinks: this.#sinkCount[hd]!, compressed: this.#compressed[hd]!, recent: len - this.#sinkCount[hd]! - this.#compressed[hd]! };
  }
  kind(seq: number, head: number): AdaptiveHeadKind {
    return this.#kind[seq * this.cache.kvHeads + head]!;
  }

  /**
   * Apply the policy to every sequence that took tokens since the last compress, after the step's
   * attention (adaptive: the first 'prefill' of a sequence profiles it on the masses its prompt
   * step's attention left in the cache).
   */
  compress(phase: PolicyPhase): void {
    const B = this.cache.batch;
    const seqs = Array.from({ length: B }, (_, b) => b).filter((b) => this.#touched[b]);
    if (!seqs.length) return;
    const p = this.policy;
    switch (p.kind) {
      case 'full': break;
      case 'sliding': this.#keepWindows(seqs, 0, p.window); break;
      case 'sinks': this.#keepWindows(seqs, p.sinks, p.windowLength); break;
      case 'pyramid': this.#pyramid(p, seqs, phase); break;
      case 'adaptive': this.#adaptive(p, seqs, phase); break;
    }
    for (const b of seqs) this.#touched[b] = 0;
  }

  /** Heads longer than `window` keep their first `sinks` and last `window - sinks` slots. */
  #keepWindows(seqs: readonly number[], sinks: number, window: number): void {
    const Hkv = this.cache.kvHeads, lengths = this.cache.lengths();
    const keep: (number[] | null)[] = new Array(this.cache.batch * Hkv).fill(null);
    let any = false;
    for (const b of seqs) {
      for (let h = 0; h < Hkv; h++) {
        const hd = b * Hkv + h, len = lengths[hd]!;
        if (len <= window) continue;
        const list: number[] = [];
        for (let s = 0; s < sinks; s++) list.push(s);
        for (let s = len - (window - sinks); s < len; s++) list.push(s);
        keep[hd] = list;
        any = true;
      }
    }
    if (any) this.cache.compact(keep);
  }

  #pyramid(p: PyramidPolicy, seqs: readonly number[], phase: PolicyPhase): void {
    const Hkv = this.cache.kvHeads, H = this.cache.batch * Hkv, W = this.budget!;
    const pooling = poolingOf(p);
    const inStep = new Uint8Array(H);
    for (const b of seqs) inStep.fill(1, b * Hkv, (b + 1) * Hkv);
    const recent = (hd: number, lengths: Int32Array) => lengths[hd]! - this.#sinkCount[hd]! - this.#compressed[hd]!;
    if (p.mergeLiteralDecode && phase === 'decode') {
      // The project's decode: the whole cache pooled in pairs behind a raw copy of the sinks.
      const lengths = this.cache.lengths();
      const start = new Int32Array(H), count = new Int32Array(H), dst = new Int32Array(H);
      let any = false;
      for (let hd = 0; hd < H; hd++) {
        if (!inStep[hd] || recent(hd, lengths) <= W) continue;
        count[hd] = lengths[hd]!, dst[hd] = this.#sinkCount[hd]!;
        any = true;
      }
      if (!any) return;
      this.cache.merge(start, count, dst, 2, pooling, true);
      const after = this.cache.lengths();
      for (let hd = 0; hd < H; hd++) if (count[hd]! > 0) this.#compressed[hd] = after[hd]! - this.#sinkCount[hd]!;
      return;
    }
    // The rule's whole loop in one native pass per head; the new merged counts follow from sizes.
    const lengths = this.cache.lengths();
    const merged = new Uint8Array(H), compressed = new Int32Array(H).fill(-1);
    let any = false;
    for (let hd = 0; hd < H; hd++) {
      if (!inStep[hd] || recent(hd, lengths) <= W) continue;
      compressed[hd] = this.#compressed[hd]!;
      merged[hd] = 1;
      any = true;
    }
    if (!any) return;
    this.cache.pyramid(this.#sinkCount, compressed, W, p.groupSize, pooling);
    for (let hd = 0; hd < H; hd++) {
      if (!merged[hd]) continue;
      let m = this.#compressed[hd]!, r = recent(hd, lengths);
      while (r > W) (m = Math.ceil((m + W) / p.groupSize)), (r -= W);
      this.#compressed[hd] = m;
    }
    if (p.mergeLiteralDecode) {
      // After any compression the whole cache counts as compressed.
      const lengths = this.cache.lengths();
      for (let hd = 0; hd < H; hd++) if (merged[hd]) this.#compressed[hd] = lengths[hd]! - this.#sinkCount[hd]!;
    }
  }

  #adaptive(p: AdaptivePolicy, seqs: readonly number[], phase: PolicyPhase): void {
    const Hkv = this.cache.kvHeads;
    const keep: (number[] | null)[] = new Array(this.cache.batch * Hkv).fill(null);
    let any = false;
    for (const b of seqs) {
      const profile = phase === 'prefill' && !this.#profiled[b];
      if (!profile && !p.policyDecode) continue;  // decode tokens are appended to every head
      for (let h = 0; h < Hkv; h++) {
        const hd = b * Hkv + h;
        const slots = this.cache.readStats(b, h);
        const ids = this.#ids[hd]!;
        let list: number[] | null = null;
        if (profile) {
          const { kind, kept } = selectByMass(p, slots.mass!, ids);
          this.#kind[hd] = kind;
          this.#prompt[hd] = slots.positions.length;
          list = kept;
        } else if (p.policyDecode) {
          list = decodeKeep(p, this.#kind[hd]!, this.#prompt[hd]!, slots.positions, slots.mass!, ids);
        }
        if (list && list.length !== slots.positions.length) {
          keep[hd] = list;
          this.#ids[hd] = list.map((j) => ids[j]!);
          any = true;
        }
      }
      if (profile) this.#profiled[b] = 1;
    }
    if (any) this.cache.compact(keep);
  }

}

/**
 * The adaptive selection from the prompt's masses (mass[j]: the probability slot j received,
 * summed over the prompt's rows of every query head of its group): the first candidate whose kept
 * mass is at least T times the kept plus the dropped (retained >= T, written so that the empty set
 * and the set of every slot decide exactly: see runtime/verify/policy/adaptive.ts), full always
 * passing.
 */
function selectByMass(p: AdaptivePolicy, mass: Float32Array, ids: readonly number[]): { kind: AdaptiveHeadKind; kept: number[] } {
  const n = mass.length;
  const special = new Set(p.special), punct = new Set(p.punctuation);
  const keep = new Uint8Array(n);
  const sets: number[][] = [];
  const snapshot = () => sets.push(Array.from({ length: n }, (_, j) => j).filter((j) => keep[j]));
  for (let j = 0; j < n; j++) if (special.has(ids[j]!)) keep[j] = 1;
  snapshot();
  for (let j = 0; j < n; j++) if (punct.has(ids[j]!)) keep[j] = 1;
  snapshot();
  for (const j of topByMass(mass, Math.floor(n * p.rF))) keep[j] = 1;
  snapshot();
  for (let j = Math.max(0, n - Math.floor(n * p.rL)); j < n; j++) keep[j] = 1;
  snapshot();
  let total = 0;
  for (let j = 0; j < n; j++) total += mass[j]!;
  // No mass at all (no call read the cache since it was filled): keep everything (adaptive.ts).
  if (total === 0) return { kind: 'full', kept: Array.from({ length: n }, (_, j) => j) };
  for (let c = 0; c < 4; c++) {
    const inSet = new Uint8Array(n);
    for (const j of sets[c]!) inSet[j] = 1;
    let kept = 0, dropped = 0;
    for (let j = 0; j < n; j++) {
      if (inSet[j]) kept += mass[j]!;
      else dropped += mass[j]!;
    }
    if (kept >= p.T * (kept + dropped)) return { kind: ORDER[c]!, kept: sets[c]! };
  }
  return { kind: 'full', kept: Array.from({ length: n }, (_, j) => j) };
}

/** The `count` slots of largest mass, ties to the lower slot, ascending. */
function topByMass(mass: ArrayLike<number>, count: number): number[] {
  const idx = Array.from({ length: mass.length }, (_, j) => j);
  idx.sort((a, b) => (mass[b]! - mass[a]!) || a - b);
  return idx.slice(0, Math.max(0, Math.min(count, idx.length))).sort((a, b) => a - b);
}

/** policyDecode: the slots a head's policy keeps after a decode step (semantics 3.4; adaptive.ts). */
function decodeKeep(p: AdaptivePolicy, kind: AdaptiveHeadKind, prompt: number, positions: Int32Array, mass: Float32Array, ids: readonly number[]): number[] {
  const n = positions.length;
  if (kind === 'full') return Array.from({ length: n }, (_, j) => j);
  if (kind === 'none') return [];
  const r = ORDER.indexOf(kind);
  const special = new Set(p.special), punct = new Set(p.punctuation);
  const heavy = new Set(r >= ORDER.indexOf('frequency') ? topByMass(mass, Math.floor(prompt * p.rF)) : []);
  const newest = n ? positions[n - 1]! : 0, nL = Math.floor(prompt * p.rL);
  const out: number[] = [];
  for (let j = 0; j < n; j++) {
    if (special.has(ids[j]!) || (r >= ORDER.indexOf('punctuation') && punct.has(ids[j]!)) || heavy.has(j)
      || (r >= ORDER.indexOf('locality') && positions[j]! > newest - nL)) out.push(j);
  }
  return out;
}
