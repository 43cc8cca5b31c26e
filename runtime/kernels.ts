/**
 * From attention specs to callable kernels: generate, build through the cache, load, and run.
 */
import os from 'node:os';
import path from 'node:path';
import { KvforgeError } from '../codegen/diagnostics.ts';
import { compileUnit, type KernelUnit } from '../codegen/pipeline.ts';
import type { KernelPlan } from '../codegen/planner/plan.ts';
import { kernelFile, renderKernel } from '../codegen/backends/render.ts';
import { provenanceOf } from '../codegen/backends/provenance.ts';
import { classifyTiles, type TileMap } from '../codegen/passes/classifyTiles.ts';
import { checkDivisors } from '../codegen/lower.ts';
import { specScale, type AttentionSpec } from '../dsl/attention.ts';
import { buildAddon, type BuildOptions } from './build.ts';
import { defaultKeyPositions, defaultQueryPositions, type AttentionInputs } from './inputs.ts';
import { loadAddon, type Backend, type NativeAddon, type NativeDeviceReport } from './native.ts';
import { checkInputs, checkResultSize } from './validate.ts';

export interface AttentionResult {
  /** [B, Hq, Lq, Dv] */
  readonly out: Float32Array;
  /** [B, Hq, Lq], natural log; -Infinity where a row admits no key. */
  readonly lse: Float32Array;
}

export interface RunOptions {
  /** Worker threads. @defaultValue the number of CPUs */
  readonly threads?: number;
  /** Parameter values for a kernel planned with paramMode 'runtime', by slot name (see `params`). */
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

  /** What the addon holding this kernel was compiled with, and whether a CUDA device answers. */
  deviceReport(): NativeDeviceReport {
    return this.#addon.deviceReport();
  }

  /** Parameter slots and their bound values: the names `RunOptions.params` takes. */
  get params(): ReadonlyArray<{ name: string; type: string; value: number }> {
    return this.unit.params;
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

  #paramValues(overrides?: Readonly<Record<string, number>>): Record<string, number> {
    const values = Object.fromEntries(this.unit.params.map((p) => [p.name, p.value]));
    if (!overrides) return values;
    if (this.unit.plan.paramMode !== 'runtime') {
      throw new KvforgeError('KVF3004', `kernel '${this.id}' bakes its parameters; run-time values need a plan with paramMode 'runtime'`);
    }
    for (const [name, v] of Object.entries(overrides)) {
      const slot = this.unit.params.find((p) => p.name === name);
      if (!slot) {
        throw new KvforgeError('KVF2002', `kernel '${this.id}' has no parameter '${name}'`, { hint: `its parameters: ${this.unit.params.map((p) => p.name).join(', ') || 'none'}` });
      }
      if (typeof v !== 'number' || !Number.isFinite(v) || (slot.type === 'int' && !Number.isInteger(v))) {
        throw new KvforgeError('KVF2002', `parameter '${name}' must be ${slot.type === 'int' ? 'an integer' : 'a finite number'}, got ${String(v)}`);
      }
      values[name] = slot.type === 'float' ? Math.fround(v) : v;
    }
    checkDivisors(this.unit, values);
    return values;
  }

  /** Run the kernel: output and LSE. Checks everything before native code sees it. */
  async run(x: AttentionInputs, opts: RunOptions = {}): Promise<AttentionResult> {
    const s = checkInputs(this.spec, x);
    const values = this.#paramValues(opts.params);
    const dims = `B*Hq*Lq = ${s.B}*${s.Hq}*${s.Lq}`;
    checkResultSize('out', s.B * s.Hq * s.Lq * s.Dv, `${dims}*Dv(${s.Dv})`);
    checkResultSize('lse', s.B * s.Hq * s.Lq, dims);
    if (s.B * s.Hq * s.Lq === 0) return { out: new Float32Array(0), lse: new Float32Array(0) };
    const t = this.tileMap(x, values);
    const threads = opts.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new KvforgeError('KVF3004', `'threads' must be a positive integer, received ${String(threads)}`);
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
  const units = specs.map((s) => ('kind' in s ? compileUnit(s, opts.plan) : compileUnit(s.spec, { ...s.plan, ...opts.plan })));
  const sources = new Map<string, string>();
  for (const u of units) sources.set(path.basename(kernelFile(u)), renderKernel(u, provenanceOf(u, `a runtime compile of '${u.name}'`)));
  const built = await buildAddon(sources, opts);
  const addon = loadAddon(built.path);
  return units.map((u) => new CompiledAttention(u, addon));
}
