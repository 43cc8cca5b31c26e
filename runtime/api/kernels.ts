/**
 * From attention specs to callable kernels: generate, build through the cache, load, and run.
 */
import os from 'node:os';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { compileUnit, type KernelUnit } from '../../codegen/pipeline.ts';
import type { KernelPlan } from '../../codegen/planner/plan.ts';
import { kernelFile, renderKernel } from '../../codegen/backends/render.ts';
import { provenanceOf } from '../../codegen/backends/provenance.ts';
import { classifyTiles, type TileMap } from '../../codegen/passes/classifyTiles.ts';
import { checkCallIntegerRange } from '../../codegen/passes/checkIntegerRange.ts';
import { checkDivisors } from '../../codegen/lower.ts';
import { specScale, type AttentionSpec } from '../../dsl/attention.ts';
import { loadBuiltAddon, type BuildOptions } from '../build/addon.ts';
import { defaultKeyPositions, defaultQueryPositions, type AttentionInputs } from './inputs.ts';
import type { Backend, NativeAddon, NativeDeviceReport } from './native.ts';
import { checkInputs, checkResultSize } from './validate.ts';
import { publicParams, resolveRunParams, type PublicParam } from './runParams.ts';
import { checkCompileEntries, checkRunOptions, MAX_THREADS } from './options.ts';

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
  readonly unit: KernelUnit;
  readonly spec: AttentionSpec;
  /** Where it runs: 'cpu' for C++ kernels; 'cuda' on a device, else 'cuda-emu' for CUDA kernels. */
  readonly backend: Backend;
  readonly #addon: NativeAddon;
  #tileCache = new Map<string, TileMap>();

  constructor(unit: KernelUnit, addon: NativeAddon, backend?: Backend) {
    this.unit = unit;
    this.spec = unit.spec;
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

  /** The parameters and their bound values, by the names `RunOptions.params` takes. */
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
      B: x.B, Hq: this.spec.heads.q, tileQ: this.unit.plan.tileQ, tileK: this.unit.plan.tileK,
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
    const s = checkInputs(this.spec, x);
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
      q: x.q, k: x.k, v: x.v, ...s, scale: specScale(this.spec),
      qpos: x.qpos ?? null, kpos: x.kpos ?? null,
      tileMap: t.map, tileQ: this.unit.plan.tileQ, tileK: this.unit.plan.tileK, mapB: t.mapB, mapH: t.mapH,
      params: Float64Array.from(this.unit.runtimeParams.map((p) => values[p.name]!)),
      threads,
    }, this.backend);
  }
}

/** CUDA kernels run on a device when one answers, else on the emulator (same source). */
function defaultBackend(u: KernelUnit, addon: NativeAddon): Backend {
  if (u.plan.target === 'cpp') return 'cpu';
  return addon.deviceReport().cuda.available ? 'cuda' : 'cuda-emu';
}

export interface CompileOptions extends BuildOptions {
  /** Schedule overrides for every kernel. */
  readonly plan?: Partial<KernelPlan>;
}

/**
 * Generate, build (cached) and load kernels for `specs`; one addon serves them all. An entry may
 * carry its own plan (`{ spec, plan: { target: 'cuda', dtype: 'bf16' } }`); `opts.plan` applies to all.
 * @example
 * ```ts
 * const [attn] = await compile([defineAttention({ heads: { q: 8, kv: 2 }, headDim: 64, mask: causal })]);
 * const { out, lse } = await attn.run({ q, k, v, B: 1, Lq: 128, Lk: 128 });
 * ```
 */
export async function compile(
  specs: ReadonlyArray<AttentionSpec | { readonly spec: AttentionSpec; readonly plan: Partial<KernelPlan> }>,
  opts: CompileOptions = {},
): Promise<CompiledAttention[]> {
  const entries = checkCompileEntries(specs);
  if (typeof opts !== 'object' || opts === null) throw new KvforgeError('KVF2005', `compile() options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const units = entries.map((s) => ('kind' in s ? compileUnit(s, opts.plan) : compileUnit(s.spec, { ...s.plan, ...opts.plan })));
  const sources = new Map<string, string>();
  const labels = new Map<string, string>();
  for (const u of units) {
    sources.set(path.basename(kernelFile(u)), renderKernel(u, provenanceOf(u)));
    labels.set(path.basename(kernelFile(u)), `variant ${JSON.stringify(u.name)}`);
  }
  const { native: addon } = await loadBuiltAddon(sources, opts, labels);
  return units.map((u) => new CompiledAttention(u, addon));
}
