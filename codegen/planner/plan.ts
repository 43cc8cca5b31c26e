/**
 * KernelPlan: the schedule of one kernel, kept apart from the math (style.md: Halide's algorithm /
 * schedule split). Frozen, validated here and only here, and hashed as part of the kernel id.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';

export type Target = 'cpp' | 'cuda';
export type ParamMode = 'baked' | 'runtime';
/** Storage dtype of q, k and v inside the kernel; accumulation is always float32. */
export type StorageDType = 'f32' | 'f16' | 'bf16';

export interface KernelPlan {
  readonly target: Target;
  /** Query rows per tile: the granularity of tile classification along the query axis. */
  readonly tileQ: number;
  /** Key slots per tile. CPU: 128 keeps a K and a V tile of D=64 in L1+L2 (perf-notes.md). */
  readonly tileK: number;
  /** 'baked': parameter values become literals; 'runtime': passed on every call. */
  readonly paramMode: ParamMode;
  /** The CPU backend stores f32; the CUDA backend f32, f16 or bf16. */
  readonly dtype: StorageDType;
}

/** What the plan may depend on in the math: head dims decide CUDA tiles and feasibility. */
export interface PlanShape {
  readonly headDim: number;
  readonly valueDim: number;
}

const DTYPES: readonly StorageDType[] = ['f32', 'f16', 'bf16'];
const PLAN_FIELDS = ['target', 'tileQ', 'tileK', 'paramMode', 'dtype'] as const satisfies ReadonlyArray<keyof KernelPlan>;

/**
 * Default tiles per target. CUDA (runtime/native/include/kvforge/cuda/forward.cuh): key tiles of
 * 64, query tiles of 64 (32 for head dims above 128), the largest that compile without register
 * spills at sm_80 and sm_90.
 */
function defaultTiles(target: Target, shape?: PlanShape): { tileQ: number; tileK: number } {
  if (target === 'cpp') return { tileQ: 64, tileK: 128 };
  return { tileQ: shape && shape.headDim > 128 ? 32 : 64, tileK: 64 };
}

/** Fill defaults, check every field (and that the target can run this shape), freeze. */
export function makePlan(overrides: Partial<KernelPlan> = {}, shape?: PlanShape): KernelPlan {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new KvforgeError('KVF2005', `kernel plan: must be an object such as { target: 'cuda', dtype: 'bf16' }, got ${overrides === null ? 'null' : Array.isArray(overrides) ? 'an array' : typeof overrides}`);
  }
  // A misspelt field (`{ tragte: 'cuda' }`) would otherwise give the default kernel, silently.
  const unknown = Object.keys(overrides).filter((k) => !(PLAN_FIELDS as readonly string[]).includes(k));
  if (unknown.length) {
    throw new KvforgeError('KVF2005', `kernel plan: unknown field(s) ${unknown.map((k) => `'${k}'`).join(', ')}`, { hint: `plan fields: ${PLAN_FIELDS.join(', ')}` });
  }
  const target = overrides.target ?? 'cpp';
  const p = { paramMode: 'baked' as ParamMode, dtype: 'f32' as StorageDType, ...defaultTiles(target, shape), ...overrides, target };
  const bad = (detail: string, hint?: string): never => {
    throw new KvforgeError('KVF2005', `kernel plan: ${detail}`, { hint });
  };
  if (p.target !== 'cpp' && p.target !== 'cuda') bad(`target '${String(p.target)}' is not available`, "use 'cpp' or 'cuda'");
  for (const f of ['tileQ', 'tileK'] as const) {
    const v = p[f];
    if (!Number.isInteger(v) || v < 1 || v > 1024) bad(`${f} must be an integer in 1..1024, got ${v}`);
  }
  if (p.paramMode !== 'baked' && p.paramMode !== 'runtime') bad(`paramMode must be 'baked' or 'runtime', got '${String(p.paramMode)}'`);
  if (!DTYPES.includes(p.dtype)) bad(`dtype must be one of ${DTYPES.join(', ')}, got '${String(p.dtype)}'`);
  if (p.target === 'cpp' && p.dtype !== 'f32') bad(`the C++ backend stores f32, got dtype '${p.dtype}'`, "use target 'cuda' for f16 and bf16");
  if (p.target === 'cuda') {
    if (p.tileK % 32 !== 0) bad(`CUDA key tiles must be a multiple of 32, got tileK=${p.tileK}`);
    if (p.tileQ % 4 !== 0 || p.tileQ > 128) bad(`CUDA query tiles must be a multiple of 4 up to 128, got tileQ=${p.tileQ}`);
    if (shape && (shape.headDim % 32 !== 0 || shape.valueDim !== shape.headDim)) {
      bad(`the CUDA backend needs headDim a multiple of 32 and valueDim == headDim, got ${shape.headDim} and ${shape.valueDim}`,
        'e.g. headDim 64, 128 or 256');
    }
  }
  return Object.freeze({ target: p.target, tileQ: p.tileQ, tileK: p.tileK, paramMode: p.paramMode, dtype: p.dtype });
}
