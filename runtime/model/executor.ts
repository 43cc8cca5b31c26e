/**
 * The model executor: the Llama-style decoder around a scheme (semantics.md section 2), with
 * attention through kvforge's kernels on the KV cache runtime. One cache per KV-computing layer
 * (codegen/scheme/cachePlan.ts); a layer attends with its variant's kernel (one compiled kernel
 * per variant, windows passed as run-time parameters) over its source's cache, in place.
 *
 * - prefill(): a batch of prompts of different lengths at once, group by group along the
 *   iteration plan: a plain group once; a cyclic group m + b passes from the same input, its
 *   caches first filled with zeros for the prompt and refilled by every pass.
 * - step(): one token per sequence at its own position; a KV-computing layer appends before it
 *   attends, a top-attending layer reads its target's tokens 0..t-1 (query position t over a
 *   cache that ends at t-1). Decode mode 'lckvLiteralZeroFill' (LCKV's public code) attends with
 *   query position t-1 (tokens 0..t-2) and folds in the zero slot exactly: a slot of logit 0 and
 *   value 0 scales the output by 1 / (1 + exp(-lse)).
 *
 * Caches keep what the cache plan says: one all of whose readers slide is truncated to the last W
 * tokens (W its readers' largest window) after prefill or a step once it holds W + WINDOW_SLACK
 * (codegen/scheme/cachePlan.ts: the shift is paid once per WINDOW_SLACK tokens); one under a
 * compression policy (the scheme's `policy`, semantics.md section 3) is compressed by it after
 * the prefill and after every step (runtime/cache/policyCache.ts), once for all its readers; the
 * others keep the whole history.
 *
 * Dense layers are native (runtime/model/nativeDecoder.ts: packed weights, a register-blocked
 * GEMM): step() is one native call for the whole model (NativeDecodeStep: embedding, every
 * layer's projections, cache append, attention and MLP, the LM head, no JS between layers);
 * prefill() strings the same native layer functions together around the asynchronous attention.
 * A layer that takes keys and values from different layers reads the keys' cache with the value
 * rows of the values' cache (the cache plan keeps the two aligned). Not run yet (KVF2011): the
 * literal decode mode on a top-attending layer whose mask or score depends on the query position
 * other than through k < q (a sliding window, an extra mask or a score function).
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { iterationPlan } from '../../codegen/scheme/iterationPlan.ts';
import { analyseLayers, type LayerInfo } from '../../codegen/scheme/layers.ts';
import { cachePlan, WINDOW_SLACK } from '../../codegen/scheme/cachePlan.ts';
import { variantKeyOf, variantSpec, type VariantKey } from '../../codegen/scheme/variants.ts';
import { compile, type CompileOptions } from '../api/compile.ts';
import type { CompiledAttention } from '../api/kernels.ts';
import type { CacheDType, KvCache } from '../cache/kvCache.ts';
import type { BoundDecode } from '../cache/attend.ts';
import type { NativeDecodeStep } from '../api/native.ts';
import { MAX_THREADS } from '../api/options.ts';
import { allocating, CALL_HINT, outOfMemoryAs } from '../api/nativeError.ts';
import os from 'node:os';
import { argmax } from './greedy.ts';
import { NativeDecoder, type WeightDType } from './nativeDecoder.ts';
import { checkWeights, type ModelWeights } from './weights.ts';
import { PolicyCache, slotStatsFor } from '../cache/policyCache.ts';

export interface ExecutorOptions {
  /** Storage dtype of the caches. @defaultValue the scheme's dtype */
  readonly cacheDType?: CacheDType;
  readonly threads?: number;
  /**
   * Where attention runs: kvforge's C++ kernels, or its CUDA kernels (on a device when one answers,
   * else on the CUDA emulator; caches in that backend's memory). Dense layers run on the CPU.
   * @defaultValue 'cpu'
   */
  readonly target?: 'cpu' | 'cuda';
  /** Storage of the dense layers' weights (accumulation is f32 either way). @defaultValue 'f32' */
  readonly weightDType?: WeightDType;
  /** Passed to compile() (build cache folder, progress). */
  readonly compile?: CompileOptions;
}

/** The caches of a batch of sequences, by layer (undefined for layers that compute no KV). */
export interface ExecutorBatch {
  readonly size: number;
  readonly caches: ReadonlyArray<KvCache | undefined>;
  /** By owner layer: the cache's compression policy driver (undefined: the cache keeps every token). */
  readonly policies: ReadonlyArray<PolicyCache | undefined>;
  /** Tokens each sequence holds. */
  readonly lengths: number[];
}

/** The native decode step of a batch, bound on its first step(). */
interface BoundStep {
  readonly step: NativeDecodeStep;
  /** Per layer: its attention's range check at the step's query positions. */
  readonly checks: readonly ((qpos: Int32Array, appended: Int32Array) => void)[];
  /** Set when a step failed after changing the caches: the batch is unusable. */
  broken: boolean;
}

export class Executor {
  readonly layers: readonly LayerInfo[];
  readonly scheme: SchemeSpec;
  /**
   * Time step() spent, in all and in attention calls (what the benchmark's attention share reads),
   * and the time prefill() and step() spent compressing caches under policies.
   */
  readonly profile = { stepMs: 0, attentionMs: 0, compressMs: 0 };

  /** Tokens a windowed cache keeps between steps, by owner layer. */
  private readonly keep: ReadonlyMap<number, number>;

  private readonly steps = new WeakMap<ExecutorBatch, BoundStep>();
  private readonly threads: number;
  private readonly profileNs = new Float64Array(2);

  private constructor(readonly w: ModelWeights, private readonly kernels: ReadonlyMap<VariantKey, CompiledAttention>, private readonly o: ExecutorOptions,
    /** The dense layers, packed in the kernels' addon. */
    readonly dense: NativeDecoder) {
    this.threads = o.threads ?? Math.min(os.availableParallelism(), MAX_THREADS);
    this.scheme = w.scheme;
    this.layers = analyseLayers(w.scheme);
    this.keep = new Map(cachePlan(w.scheme).flatMap((e) => (e.retention.kind === 'window' ? [[e.owner, e.retention.window] as const] : [])));
  }

  /** Truncate every windowed cache to what its readers can still see. */
  private retain(b: ExecutorBatch): void {
    for (const [owner, W] of this.keep) {
      const c = b.caches[owner]!;
      // Linked caches (a split reader) have equal lengths here, so they are truncated together.
      if (c.lengths().some((n) => n >= W + WINDOW_SLACK)) c.truncate(W);
    }
  }

  /** Compile the scheme's variants (one kernel each) and check the executor can run it. */
  static async create(w: ModelWeights, o: ExecutorOptions = {}): Promise<Executor> {
    Executor.check(w);
    const s = w.scheme;
    const variant = (key: VariantKey) => variantSpec(s, key, key.startsWith('window') ? s.window : undefined);
    // All four variants of the shape, whichever the scheme uses: every scheme of one shape and
    // overrides then shares one build (windows are run-time parameters, not part of the kernel).
    const keys: VariantKey[] = ['causal', 'noDiagonal', 'window', 'windowNoDiagonal'];
    if (o.target !== undefined && o.target !== 'cpu' && o.target !== 'cuda') throw new KvforgeError('KVF3001', `executor target must be 'cpu' or 'cuda', received ${String(o.target)}`);
    // CUDA kernels read caches of their plan's dtype.
    const device = o.target === 'cuda' ? { target: 'cuda' as const, dtype: o.cacheDType ?? s.dtype } : {};
    const compiled = await compile(keys.map((key) => ({ spec: variant(key), plan: { ...device, ...(key.startsWith('window') ? { paramMode: 'runtime' as const } : {}) } })), o.compile);
    return new Executor(w, new Map(keys.map((k, i) => [k, compiled[i]])), o, NativeDecoder.create(compiled[0]!.addon, w, o.weightDType));
  }

  /** What create() and withWeights() refuse: weights that do not fit, and what the executor cannot run yet. */
  private static check(w: ModelWeights): void {
    checkWeights(w);
    const s = w.scheme;
    for (const l of analyseLayers(s)) {
      if (s.decode === 'lckvLiteralZeroFill' && l.attendsTop && (l.sliding || s.attention.mask || s.attention.score)) {
        throw new KvforgeError('KVF2011', `layer ${l.index}: the literal zero-fill decode runs only on a top-attending layer without a window, extra mask or score function`);
      }
      const p = s.policies[l.index];
      if (p && p.kind !== 'full' && s.decode === 'lckvLiteralZeroFill') {
        throw new KvforgeError('KVF2011', `layer ${l.index}: a ${p.kind} cache policy under the literal zero-fill decode is not run yet (the zero slot is placed by slot index, a compressed cache's slots are not its tokens)`);
      }
    }
  }

  /** Storage of the dense layers' weights. */
  get weightDType(): WeightDType {
    return this.dense.dtype;
  }

  /** Storage dtype of this executor's caches. */
  get cacheDType(): CacheDType {
    return this.o.cacheDType ?? this.scheme.dtype;
  }

  /** The same kernels with other weights of the same scheme and shape (no compile). */
  withWeights(w: ModelWeights): Executor {
    const a = this.scheme, b = w.scheme;
    if (a.heads.q !== b.heads.q || a.heads.kv !== b.heads.kv || a.headDim !== b.headDim || a.valueDim !== b.valueDim
      || a.attention.mask !== b.attention.mask || a.attention.score !== b.attention.score || a.attention.scale !== b.attention.scale) {
      throw new KvforgeError('KVF3011', `withWeights: scheme '${b.name}' needs other kernels than '${a.name}' (heads, head dims or attention overrides differ)`, { hint: 'Executor.create(weights)' });
    }
    Executor.check(w);
    return new Executor(w, this.kernels, this.o, NativeDecoder.create(this.addon, w, this.o.weightDType));
  }

  /** Free the packed weights now (the kernels stay with their addon). Later calls are KVF3012. */
  dispose(): void {
    this.dense.dispose();
  }

  /** The addon of the kernels (the dense layers and the native step live there too). */
  get addon() {
    return this.kernels.get('causal')!.addon;
  }

  private live(): void {
    if (this.dense.disposed) throw new KvforgeError('KVF3012', 'this executor was disposed: its weights are freed', { hint: 'Executor.create(weights) again' });
  }

  newBatch(size: number): ExecutorBatch {
    const any = [...this.kernels.values()][0];
    const caches: (KvCache | undefined)[] = [], policies: (PolicyCache | undefined)[] = [];
    try {
      for (const l of this.layers) {
        const p = l.computesKv ? this.scheme.policies[l.index] : undefined;
        const active = p && p.kind !== 'full' ? p : undefined;
        const c = l.computesKv ? any.createCache({ batch: size, dtype: this.cacheDType, ...(active ? { slotStats: slotStatsFor(active) } : {}) }) : undefined;
        caches.push(c);
        policies.push(active && c ? new PolicyCache(c, active, { layer: l.index, layers: this.scheme.layers }) : undefined);
      }
    } catch (e) {
      for (const c of caches) c?.dispose();
      throw e;
    }
    return { size, caches, policies, lengths: new Array(size).fill(0) };
  }

  /** After a prefill or a step appended `ids` (per sequence) to every cache: apply the policies. */
  private compress(b: ExecutorBatch, phase: 'prefill' | 'decode', ids: readonly ArrayLike<number>[]): void {
    const t0 = performance.now();
    for (const pc of b.policies) {
      if (!pc) continue;
      ids.forEach((t, s) => pc.noteAppended(s, t));
      pc.compress(phase);
    }
    this.profile.compressMs += performance.now() - t0;
  }

  disposeBatch(b: ExecutorBatch): void {
    for (const c of b.caches) c?.dispose();
  }

  private kernelOf(l: LayerInfo): { k: CompiledAttention; params: Record<string, number> | undefined } {
    const k = this.kernels.get(variantKeyOf(l.diagonalMasked, l.sliding))!;
    return { k, params: l.window !== undefined ? { 'slidingWindow.window': l.window } : undefined };
  }

  /** Token ids as int32 (KVF3004 naming the first that is not an id of the vocabulary). */
  private tokenIds(tokens: readonly number[]): Int32Array {
    const V = this.w.model.vocabSize;
    const ids = new Int32Array(tokens.length);
    tokens.forEach((t, r) => {
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= V) throw new KvforgeError('KVF3004', `token ${Array.isArray(t) || ArrayBuffer.isView(t) ? 'list' : String(t)} (row ${r}) is not a token id in 0..${V - 1}`);
      ids[r] = t;
    });
    return ids;
  }

  /**
   * Parallel prefill of one prompt per sequence into an empty batch; resolves with the logits
   * after every prompt token, [rows, V], rows packed by sequence.
   */
  async prefill(b: ExecutorBatch, prompts: readonly (readonly number[])[]): Promise<Float32Array> {
    if (prompts.length !== b.size) throw new KvforgeError('KVF3002', `prefill takes one prompt per sequence (${b.size}), got ${prompts.length}`);
    if (b.lengths.some((n) => n !== 0)) throw new KvforgeError('KVF3010', 'prefill runs on an empty batch (newBatch())');
    const empty = prompts.findIndex((p) => !p || typeof p.length !== 'number' || p.length === 0);
    if (empty >= 0) throw new KvforgeError('KVF3004', `prompt ${empty} is empty; every sequence needs at least one prompt token`);
    const counts = prompts.map((p) => p.length);
    const rows = counts.reduce((a, n) => a + n, 0);
    const positions = Int32Array.from(prompts.flatMap((p) => p.map((_, t) => t)));
    this.live();
    const { q: Hq, kv: Hkv } = this.scheme.heads;
    const D = this.scheme.headDim, Dv = this.scheme.valueDim;
    const { hiddenSize: H, vocabSize: V } = this.w.model;
    const model = this.dense.model, threads = this.threads;
    let h = new Float32Array(rows * H);
    model.embed(this.tokenIds(prompts.flat()), h);
    const fill = (c: KvCache, k: Float32Array, v: Float32Array) => {
      for (let s = 0; s < b.size; s++) c.reset(s);
      c.appendBatch(counts, { k, v, positions });
    };
    for (const g of iterationPlan(this.scheme)) {
      const members = this.layers.slice(g.first, g.last + 1);
      if (g.kind === 'cyclic') {
        for (const l of members) {
          const c = b.caches[l.index];
          if (c) fill(c, new Float32Array(rows * Hkv * D), new Float32Array(rows * Hkv * Dv));
        }
      }
      const input = h;
      for (let pass = 0; pass < g.passes; pass++) {
        h = Float32Array.from(input);
        for (const l of members) {
          const q = new Float32Array(rows * Hq * D);
          const k = l.computesKv ? new Float32Array(rows * Hkv * D) : null, v = l.computesKv ? new Float32Array(rows * Hkv * Dv) : null;
          model.project(l.index, h, positions, q, k, v, threads);
          const own = b.caches[l.index];
          if (own) fill(own, k!, v!);
          const { k: kernel, params } = this.kernelOf(l);
          const { out } = await kernel.prefill(b.caches[l.keysFrom]!, { q, positions, counts, values: b.caches[l.valuesFrom] }, { params, threads: this.o.threads });
          model.finish(l.index, h, out, threads);
        }
      }
    }
    counts.forEach((n, s) => { b.lengths[s] = n; });
    this.retain(b);
    this.compress(b, 'prefill', prompts);
    const logits = new Float32Array(rows * V);
    model.logits(h, logits, threads);
    return logits;
  }

  /** The native step of batch `b`: per layer the cache it appends to and its variant's plan over the cache it reads. */
  private boundStep(b: ExecutorBatch): BoundStep {
    const have = this.steps.get(b);
    if (have) return have;
    const literalMode = this.scheme.decode === 'lckvLiteralZeroFill';
    const bound: BoundDecode[] = this.layers.map((l) => {
      const { k, params } = this.kernelOf(l);
      return k.bindDecode(b.caches[l.keysFrom]!, { params, threads: this.o.threads }, b.caches[l.valuesFrom]);
    });
    const layers = this.layers.map((l, i) => ({ append: b.caches[l.index]?.native ?? null, plan: bound[i]!.plan, literal: literalMode && l.attendsTop }));
    const native = allocating('a native decode step', CALL_HINT, () => new this.addon.DecodeStep(this.dense.model, b.size, layers));
    const shifted = new Int32Array(b.size);
    const checks = this.layers.map((l, i) => (qpos: Int32Array, appended: Int32Array) => {
      if (!layers[i]!.literal) return bound[i]!.check(qpos, appended);
      for (let s = 0; s < qpos.length; s++) shifted[s] = qpos[s]! - 1;
      bound[i]!.check(shifted, appended);
    });
    const entry: BoundStep = { step: native, checks, broken: false };
    this.steps.set(b, entry);
    return entry;
  }

  /**
   * One token per sequence, each at its own next position: the logits, [B, V]. One native call
   * runs the whole model. A step refused before it runs (a bad token, a range the kernels cannot
   * prove, a cache that cannot grow or was disposed) changes nothing; one that fails inside the
   * native call (a kernel failure) leaves the batch unusable (KVF3010 on later steps).
   * `attention`: receives every layer's attention output of the step, [layers, B, Hq, Dv].
   */
  step(b: ExecutorBatch, tokens: readonly number[], o: { readonly attention?: Float32Array } = {}): Float32Array {
    this.live();
    if (tokens.length !== b.size) throw new KvforgeError('KVF3002', `step takes one token per sequence (${b.size}), got ${tokens.length}`);
    const ids = this.tokenIds(tokens);
    const { q: Hq } = this.scheme.heads;
    if (o.attention !== undefined && (!(o.attention instanceof Float32Array) || o.attention.length !== this.layers.length * b.size * Hq * this.scheme.valueDim)) {
      throw new KvforgeError('KVF3002', `step: 'attention' must be a Float32Array of layers*B*Hq*Dv = ${this.layers.length * b.size * Hq * this.scheme.valueDim} floats`);
    }
    const bound = this.boundStep(b);
    if (bound.broken) throw new KvforgeError('KVF3010', 'an earlier step of this batch failed part-way: its caches are inconsistent', { hint: 'disposeBatch() it and start a new batch' });
    const t0 = performance.now();
    const positions = Int32Array.from(b.lengths);
    // Range proofs first (KVF3007 changes nothing), over the keys the caches will hold.
    this.layers.forEach((_, i) => bound.checks[i]!(positions, positions));
    const logits = new Float32Array(b.size * this.w.model.vocabSize);
    this.profileNs[0] = 0;
    // Checks and growth first: a refusal here leaves the batch as it was.
    for (const c of b.caches) c?.reserveStep(positions);
    try {
      bound.step.run(ids, positions, logits, this.threads, this.profileNs, o.attention);
    } catch (e) {
      bound.broken = true; // some caches may hold the token already, others not
      throw outOfMemoryAs(e, `the working memory of a decode step of scheme '${this.scheme.name}'`, CALL_HINT);
    }
    for (const c of b.caches) c?.commitStep(positions);
    for (let s = 0; s < b.size; s++) b.lengths[s]++;
    this.retain(b);
    if (b.policies.some((p) => p)) this.compress(b, 'decode', Array.from(ids, (t) => [t]));
    this.profile.stepMs += performance.now() - t0;
    this.profile.attentionMs += this.profileNs[0]! / 1e6;
    return logits;
  }

  /**
   * Greedy generation of `count` new tokens per sequence: the first from the prefill's last
   * logits, each next one from a decode step (count - 1 steps).
   */
  async generate(prompts: readonly (readonly number[])[], count: number): Promise<number[][]> {
    if (!Number.isInteger(count) || count < 1) throw new KvforgeError('KVF3004', `generate: the number of new tokens must be a positive integer, got ${String(count)}`);
    const steps = count;
    const b = this.newBatch(prompts.length);
    try {
      const V = this.w.model.vocabSize;
      const all = await this.prefill(b, prompts);
      let next: number[] = [];
      let row = 0;
      for (const p of prompts) {
        row += p.length;
        next.push(argmax(all, (row - 1) * V, V));
      }
      const out: number[][] = prompts.map(() => []);
      for (let i = 0; i < steps; i++) {
        next.forEach((t, s) => out[s].push(t));
        if (i === steps - 1) break;
        const logits = this.step(b, next);
        next = next.map((_, s) => argmax(logits, s * V, V));
      }
      return out;
    } finally {
      this.disposeBatch(b);
    }
  }
}

