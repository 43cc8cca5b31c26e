/**
 * KernelPlan: the schedule of one kernel, kept apart from the math (style.md: Halide's algorithm /
 * schedule split). Frozen, validated here and only here, and hashed as part of the kernel id.
 */
import { KvforgeError } from '../diagnostics.ts';

export type Target = 'cpp';
export type ParamMode = 'baked' | 'runtime';

export interface KernelPlan {
  readonly target: Target;
  /** Query rows per tile: the granularity of tile classification along the query axis. */
  readonly tileQ: number;
  /** Key slots per tile: 128 keeps a K and a V tile of D=64 in L1+L2 (perf-notes.md). */
  readonly tileK: number;
  /** 'baked': parameter values become literals; 'runtime': passed on every call. */
  readonly paramMode: ParamMode;
}

export const DEFAULT_PLAN: KernelPlan = Object.freeze({ target: 'cpp', tileQ: 64, tileK: 128, paramMode: 'baked' });

/** Fill defaults, check every field, freeze. */
export function makePlan(overrides: Partial<KernelPlan> = {}): KernelPlan {
  const p = { ...DEFAULT_PLAN, ...overrides };
  const bad = (detail: string): never => {
    throw new KvforgeError('KVF2005', `kernel plan: ${detail}`);
  };
  if (p.target !== 'cpp') bad(`target '${String(p.target)}' is not available; expected 'cpp'`);
  for (const f of ['tileQ', 'tileK'] as const) {
    const v = p[f];
    if (!Number.isInteger(v) || v < 1 || v > 1024) bad(`${f} must be an integer in 1..1024, got ${v}`);
  }
  if (p.paramMode !== 'baked' && p.paramMode !== 'runtime') bad(`paramMode must be 'baked' or 'runtime', got '${String(p.paramMode)}'`);
  return Object.freeze({ target: p.target, tileQ: p.tileQ, tileK: p.tileK, paramMode: p.paramMode });
}
