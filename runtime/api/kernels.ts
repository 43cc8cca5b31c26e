/**
 * A compiled kernel, ready to run on typed arrays: unit data (codegen/unit.ts) and the addon that
 * holds its code. Nothing here needs the spec it was compiled from or the code generator, so
 * kernels loaded from generated/manifest.json run without the front end (compile.ts builds new ones).
 */
import os from 'node:os';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { AttentionSpec } from '../../dsl/attention.ts';
import type { KernelUnitData } from '../../codegen/unit.ts';
import { classifyTiles, type TileMap } from '../../codegen/passes/classifyTiles.ts';
import { checkCallIntegerRange } from '../../codegen/passes/checkIntegerRange.ts';
import { checkDivisors } from '../../codegen/passes/checkDivisors.ts';
import { defaultKeyPositions, defaultQueryPositions, type AttentionInputs } from './inputs.ts';
import type { Backend, NativeAddon, NativeDeviceReport } from './native.ts';
import { checkInputs, checkResultSize } from './validate.ts';
import { CALL_HINT, outOfMemoryAs } from './nativeError.ts';
import { publicParams, resolveRunParams, type PublicParam } from './runParams.ts';
import { checkRunOptions, MAX_THREADS } from './options.ts';
import { CallParamsMemo, type CallParams } from './callParams.ts';
import { KvCache, type CacheOptions } from '../cache/kvCache.ts';
import * as cacheCalls from '../cache/attend.ts';
import { TargetBuffer, type BufferOptions } from './buffer.ts';

/** A unit to run: its data, and the spec it was compiled from when compile() built it. */
export type RunnableUnit = KernelUnitData & { readonly spec?: AttentionSpec };

export interface AttentionResult {
  /** [B, Hq, Lq, Dv] */
  readonly out: Float32Array;
  /** [B, Hq, Lq], natural log; -Infinity where a row admits no key. */
  readonly lse: Float32Array;
}


export interface RunOptions {
  /** Worker threads, 1..256. @defaultValue the number of CPUs */
  readonly threads?: number;
  /**
   * Parameter values for a kernel planned with paramMode 'runtime', by declared name (`window`), or
   * `function.name` where two functions declare the same name; see `CompiledAttention.params`.
   */
  readonly params?: Readonly<Record<string, number>>;
}

/** A compiled attention variant, ready to run on typed arrays. */
export class CompiledAttention {
  readonly unit: RunnableUnit;
  /** Where it runs: 'cpu' for C++ kernels; 'cuda' on a device, else 'cuda-emu' for CUDA kernels. */
  readonly backend: Backend;
  readonly #addon: NativeAddon;
  #tileCache = new Map<string, TileMap>();

  constructor(unit: RunnableUnit, addon: NativeAddon, backend?: Backend) {
    this.unit = unit;
    this.#addon = addon;
    this.backend = backend ?? defaultBackend(unit, addon);
    if (!addon.listKernels(this.backend).includes(unit.id)) {
      const report = addon.deviceReport();
      throw new KvforgeError('KVF4002', `kernel '${unit.id}' is not in the addon for backend '${this.backend}' (compiled backends: ${report.compiledBackends.join(', ')})`, {
        hint: this.backend === 'cpu' ? 'regenerate and rebuild: kvforge gen' : `CUDA: ${report.cuda.reason || 'rebuild with nvcc on PATH'}`,
      });
    }
  }

  get id(): string {
    return this.unit.id;
  }

  /**
   * The spec a compile() kernel was built from (its mask and score as the user's functions);
   * undefined for a shipped kernel, loaded from generated/manifest.json as unit data only.
   */
  get spec(): AttentionSpec | undefined {
    return this.unit.spec;
  }

  /**
   * The same kernel on another backend of its addon: a CUDA kernel on 'cuda-emu' while a device
   * is there (to compare the two), or on 'cuda' explicitly. KVF4002 when that backend lacks it.
   */
  onBackend(backend: Backend): CompiledAttention {
    return new CompiledAttention(this.unit, this.#addon, backend);
  }

  /** What the addon holding this kernel was compiled with, and whether a CUDA device answers. */
  deviceReport(): NativeDeviceReport {
    return this.#addon.deviceReport();
  }

  /**
   * The parameters and their bound values, by the names `RunOptions.params` takes (a shipped
   * kernel with run-time parameters has no bound values: each call gives them).
   */
  get params(): readonly PublicParam[] {
    return publicParams(this.unit.params);
  }

  /**
   * The tile classes of a call with these inputs, as codegen/passes/classifyTiles.ts computes them
   * (for reports: the kernel computes the same classes itself, from its generated classify()).
   */
  tileMap(x: Pick<AttentionInputs, 'B' | 'Lq' | 'Lk' | 'qpos' | 'kpos'>, values = this.#paramValues()): TileMap {
    const defaults = !x.qpos && !x.kpos;
    const key = `${x.B} ${x.Lq} ${x.Lk} ${JSON.stringify(values)}`;
    const hit = defaults ? this.#tileCache.get(key) : undefined;
    if (hit) return hit;
    const map = classifyTiles(this.unit.mask, {
      B: x.B, Hq: this.unit.heads.q, tileQ: this.unit.plan.tileQ, tileK: this.unit.plan.tileK,
      qpos: x.qpos ?? defaultQueryPositions(x.Lq, x.Lk), kpos: x.kpos ?? defaultKeyPositions(x.Lk), params: values,
    });
    if (defaults) this.#tileCache.set(key, map);
    return map;
  }

  #paramValues(overrides?: unknown): Record<string, number> {
    if (overrides !== undefined && this.unit.plan.paramMode !== 'runtime') {
      throw new KvforgeError('KVF3004', `kernel '${this.id}' bakes its parameters; run-time values need a plan with paramMode 'runtime'`);
    }
    const values = resolveRunParams(this.id, this.unit.params, overrides);
    if (overrides !== undefined) checkDivisors(this.unit, values);
    return values;
  }

  /**
   * A KV cache this kernel (and every kernel of the same compile() call with the same KV heads and
   * head dims) reads in place: `batch` sequences in the memory of this kernel's backend.
   */
  createCache(opts: CacheOptions): KvCache {
    if (opts === null || typeof opts !== 'object') throw new KvforgeError('KVF3004', `createCache needs { batch, capacity?, dtype? }, received ${String(opts)}`);
    const { heads, headDim, valueDim, plan } = this.unit;
    return new KvCache(this.#addon, this.backend, { batch: opts.batch, kvHeads: heads.kv, headDim, valueDim },
      { ...opts, dtype: opts.dtype ?? (plan.target === 'cuda' ? plan.dtype : 'f32') });
  }

  /** Memory of this kernel's target: f32 buffers are what decodeSync reads and writes in place. */
  createBuffer(opts: BufferOptions): TargetBuffer {
    return new TargetBuffer(this.#addon, this.backend, opts);
  }

  #cacheKernelMemo: cacheCalls.CacheKernel | undefined;
  #cacheKernel(): cacheCalls.CacheKernel {
    return (this.#cacheKernelMemo ??= { unit: this.unit, addon: this.#addon, backend: this.backend });
  }

  // The parameter array of a cache call, memoised (callParams.ts): a decode loop neither
  // allocates nor re-proves its range, and decodeSync keeps its native plan.
  readonly #calls = new CallParamsMemo((opts) => this.#newCallParams(opts as RunOptions | undefined));

  #newCallParams(opts: RunOptions | undefined): CallParams {
    const o = checkRunOptions(opts);
    const values = this.#paramValues(o.params);
    return { params: Float64Array.from(this.unit.runtimeParams.map((p) => values[p.name]!)), values, threads: o.threads };
  }

  /**
   * Prefill over a cache: `counts[b]` new query rows of sequence b (q [rows, Hq, D] packed by
   * sequence, positions [rows]) attend to the slots the cache holds (append their K/V first).
   * Resolves with out [rows, Hq, Dv] and lse [rows, Hq].
   */
  async prefill(cache: KvCache, x: cacheCalls.PrefillInputs, opts?: RunOptions): Promise<AttentionResult> {
    const p = this.#calls.get(opts);
    return await cacheCalls.prefill(this.#cacheKernel(), cache, x, p.params, p.values, p.threads);
  }

  /** Decode step: one query per sequence (q [B, Hq, D]) over its slots; out [B, Hq, Dv], lse [B, Hq]. */
  async decode(cache: KvCache, x: cacheCalls.DecodeInputs, opts?: RunOptions): Promise<AttentionResult> {
    const p = this.#calls.get(opts);
    return await cacheCalls.decode(this.#cacheKernel(), cache, x, p.params, p.values, p.threads);
  }

  /** decode() on the calling thread into preallocated `out` and `lse`: no copies, no allocation. */
  decodeSync(cache: KvCache, x: cacheCalls.DecodeInputs & cacheCalls.DecodeOutputs, opts?: RunOptions): void {
    const p = this.#calls.get(opts);
    cacheCalls.decodeSync(this.#cacheKernel(), cache, x, p.params, p.values, p.threads);
  }

  /**
   * The native plan decodeSync uses over `cache`, bound for a caller that runs it from native code
   * (the model executor's decode step), with the range check each such call needs. Internal.
   */
  bindDecode(cache: KvCache, opts?: RunOptions, values?: KvCache): cacheCalls.BoundDecode {
    const p = this.#calls.get(opts);
    return cacheCalls.bindDecode(this.#cacheKernel(), cache, p.params, p.values, p.threads, values);
  }

  /** The addon this kernel lives in (internal: the model executor builds its dense layers there). */
  get addon(): NativeAddon {
    return this.#addon;
  }

  /** Run the kernel: output and LSE. Checks everything before native code sees it. */
  async run(x: AttentionInputs, opts: RunOptions = {}): Promise<AttentionResult> {
    const s = checkInputs(this.unit, x);
    const o = checkRunOptions(opts);
    const values = this.#paramValues(o.params);
    const dims = `B*Hq*Lq = ${s.B}*${s.Hq}*${s.Lq}`;
    checkResultSize('out', s.B * s.Hq * s.Lq * s.Dv, `${dims}*Dv(${s.Dv})`);
    checkResultSize('lse', s.B * s.Hq * s.Lq, dims);
    if (s.B * s.Hq * s.Lq === 0) return { out: new Float32Array(0), lse: new Float32Array(0) };
    checkCallIntegerRange(this.unit, { B: s.B, Hq: s.Hq, qpos: x.qpos ?? defaultQueryPositions(s.Lq, s.Lk), kpos: x.kpos ?? defaultKeyPositions(s.Lk), params: values });
    const threads = o.threads ?? Math.min(os.availableParallelism(), MAX_THREADS);
    try {
      return await this.#addon.forward(this.id, {
        q: x.q, k: x.k, v: x.v, ...s, scale: this.unit.scale,
        qpos: x.qpos ?? null, kpos: x.kpos ?? null,
        params: Float64Array.from(this.unit.runtimeParams.map((p) => values[p.name]!)),
        threads,
      }, this.backend);
    } catch (e) {
      throw outOfMemoryAs(e, `the working memory of kernel '${this.id}' (B=${s.B}, Lq=${s.Lq}, Lk=${s.Lk})`, CALL_HINT);
    }
  }
}

/** CUDA kernels run on a device when one answers, else on the emulator (same source). */
function defaultBackend(u: KernelUnitData, addon: NativeAddon): Backend {
  if (u.plan.target === 'cpp') return 'cpu';
  return addon.deviceReport().cuda.available ? 'cuda' : 'cuda-emu';
}
