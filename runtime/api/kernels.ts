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
import { publicParams, resolveRunParams, type PublicParam } from './runParams.ts';
import { checkRunOptions, MAX_THREADS } from './options.ts';

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

  /** The tile map a call with these inputs uses (also what the benchmark reports). */
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
    const t = this.tileMap(x, values);
    const threads = o.threads ?? Math.min(os.availableParallelism(), MAX_THREADS);
    return await this.#addon.forward(this.id, {
      q: x.q, k: x.k, v: x.v, ...s, scale: this.unit.scale,
      qpos: x.qpos ?? null, kpos: x.kpos ?? null,
      tileMap: t.map, tileQ: this.unit.plan.tileQ, tileK: this.unit.plan.tileK, mapB: t.mapB, mapH: t.mapH,
      params: Float64Array.from(this.unit.runtimeParams.map((p) => values[p.name]!)),
      threads,
    }, this.backend);
  }
}

/** CUDA kernels run on a device when one answers, else on the emulator (same source). */
function defaultBackend(u: KernelUnitData, addon: NativeAddon): Backend {
  if (u.plan.target === 'cpp') return 'cpu';
  return addon.deviceReport().cuda.available ? 'cuda' : 'cuda-emu';
}
