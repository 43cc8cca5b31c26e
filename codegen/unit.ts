/**
 * A kernel unit as plain data: everything the runtime needs about one generated kernel, with no
 * live closure and nothing of the front end. `compileUnit` (pipeline.ts) builds one from a spec;
 * `kvforge gen` writes it into generated/manifest.json (manifest.ts) and the runtime reads it back
 * from there, so loading a shipped kernel never runs ts-morph.
 */
import { internalError } from '../dsl/diagnostics.ts';
import { stableHash } from './hash.ts';
import type { Expr } from './ir/expr.ts';
import type { KernelPlan, Target } from './planner/plan.ts';

/** One parameter of a kernel: a slot of its `params` array (run-time mode) or a baked constant. */
export interface ParamSlot {
  /** The kernel's slot name: `m<i>_<declared>` for mask leaf i, `s_<declared>` for the score. */
  readonly name: string;
  readonly type: 'int' | 'float';
  /**
   * The bound value. Absent only for a kernel with run-time parameters read from a manifest: one
   * such kernel serves every spec that differs only in values, so it records none of them.
   */
  readonly value?: number;
  /** Which function and declared name it came from (`slidingWindow.window`), for messages. */
  readonly origin: string;
}

export interface KernelUnitData {
  readonly id: string;
  /** The spec's name (user text). */
  readonly name: string;
  /** Hash of the math: heads, dims, scale, IR, parameter names and types, and values when baked. */
  readonly specHash: string;
  readonly plan: KernelPlan;
  /** Query heads and key/value heads; query head h reads kv head floor(h / (q / kv)). */
  readonly heads: { readonly q: number; readonly kv: number };
  readonly headDim: number;
  readonly valueDim: number;
  /** Multiplies dot(q, k): the spec's scale, or 1 / sqrt(headDim) where it gave none. */
  readonly scale: number;
  /** Final IR (after binding and folding); undefined: every key admitted / the score unchanged. */
  readonly mask: Expr | undefined;
  readonly score: Expr | undefined;
  /** Every parameter (the reference's and the tile classifier's view). */
  readonly params: readonly ParamSlot[];
  /** The parameters the kernel reads at run time, in its `params` array order (empty when baked). */
  readonly runtimeParams: readonly ParamSlot[];
}

/**
 * What every kernel id matches: lower-case ASCII letters, digits and `_`, so an id is safe as a
 * C identifier suffix (`Variant_<id>`), inside a string literal and as a file name; nothing of the
 * user's name survives but its letters and digits.
 */
export const KERNEL_ID = /^[a-z0-9_]{1,40}_[0-9a-f]{10}$/;

/** Kernel ids: a readable slug of the spec's name (any text) plus a hash of spec and plan. */
export function kernelId(name: string, specHash: string, plan: KernelPlan): string {
  const slug = name.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '').toLowerCase().slice(0, 40) || 'kernel';
  const id = `${slug}_${stableHash({ specHash, plan }, 10)}`;
  if (!KERNEL_ID.test(id)) internalError(`kernel id ${JSON.stringify(id)} is not of the form ${KERNEL_ID}`);
  return id;
}

/** The file extension of each target's kernels, which is also the folder they go in. */
const EXTENSIONS: Readonly<Record<Target, string>> = { cpp: 'cpp', cuda: 'cu' };

/** Path of a kernel's file inside generated/ (and inside a build's kernel folder). */
export function kernelFile(u: Pick<KernelUnitData, 'id' | 'plan'>): string {
  return `${u.plan.target}/${u.id}.${EXTENSIONS[u.plan.target]}`;
}

/**
 * Every path {@link kernelFile} can return, and nothing else: what `kvforge gen` may ever delete
 * (a manifest entry of any other form is refused, so an edited manifest cannot name `../x`).
 */
export const GENERATED_FILE = new RegExp(
  `^(?:${Object.entries(EXTENSIONS).map(([t, ext]) => `${t}/${KERNEL_ID.source.slice(1, -1)}\\.${ext}`).join('|')})$`,
);

/** The folders of generated files, one per target. */
export const TARGET_DIRS: readonly string[] = Object.keys(EXTENSIONS);

/**
 * The data a unit ships with: the unit without anything it was built from (`spec`), and, for a
 * kernel with run-time parameters, without their values (every spec sharing the kernel has its
 * own; they are given to `run()`).
 */
export function shippedUnit(u: KernelUnitData): KernelUnitData {
  const runtime = u.plan.paramMode === 'runtime';
  const slot = (p: ParamSlot): ParamSlot => (runtime ? { name: p.name, type: p.type, origin: p.origin } : { ...p });
  const params = u.params.map(slot);
  return {
    id: u.id, name: u.name, specHash: u.specHash, plan: u.plan, heads: { q: u.heads.q, kv: u.heads.kv },
    headDim: u.headDim, valueDim: u.valueDim, scale: u.scale, mask: u.mask, score: u.score,
    params, runtimeParams: u.runtimeParams.map((r) => params.find((p) => p.name === r.name) ?? internalError(`run-time parameter '${r.name}' of ${u.id} is not among its params`)),
  };
}
