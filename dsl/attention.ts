/**
 * defineAttention: one attention variant, as plain data: head counts, head dims, scale, mask and
 * score. Validated here, where the user wrote it, so a bad declaration fails at its own line.
 */
import { KvforgeError, type SourceLocation } from './diagnostics.ts';
import { captureCallSite } from './callsite.ts';
import { checkName } from './name.ts';
import type { Bound, ScoreDef } from './define.ts';
import { maskName, toMask, type Mask, type MaskLike } from './mask.ts';
import type { CallSite } from './types.ts';

/** Largest head dimension kvforge generates kernels for. */
export const MAX_HEAD_DIM = 1024;

/** A validated attention variant. */
export interface AttentionSpec {
  readonly kind: 'attention';
  readonly name: string;
  /** Query heads and key/value heads; query head h reads kv head floor(h / (q / kv)). */
  readonly heads: { readonly q: number; readonly kv: number };
  readonly headDim: number;
  readonly valueDim: number;
  /** Multiplies dot(q, k); undefined means 1 / sqrt(headDim). */
  readonly scale: number | undefined;
  readonly mask: Mask | undefined;
  readonly score: Bound<ScoreDef<any>> | undefined;
  readonly site: CallSite | undefined;
}

/** What {@link defineAttention} takes. */
export interface AttentionOptions {
  /** Query and key/value head counts; `q` must be a positive multiple of `kv`. */
  readonly heads: { readonly q: number; readonly kv: number };
  /** Head dimension of queries and keys, 1 to 1024. */
  readonly headDim: number;
  /** Head dimension of values. @defaultValue headDim */
  readonly valueDim?: number;
  /** Score scale. @defaultValue 1 / sqrt(headDim) */
  readonly scale?: number;
  /** Admissible keys. @defaultValue every key */
  readonly mask?: MaskLike;
  /** Score modification, applied before the mask. @defaultValue none */
  readonly score?: Bound<ScoreDef<any>> | ScoreDef<{}>;
  /**
   * Name used in kernel ids and reports: any non-empty text without control characters, line
   * separators or bidirectional controls (KVF2007; see dsl/name.ts).
   * @defaultValue derived from mask and score
   */
  readonly name?: string;
}

/**
 * Declare an attention variant.
 * @example
 * ```ts
 * import { defineAttention, causal, softcap } from 'kvforge';
 * export const gemmaLike = defineAttention({
 *   heads: { q: 32, kv: 4 }, headDim: 64, mask: causal, score: softcap.with({ cap: 30 }),
 * });
 * ```
 */
export function defineAttention(o: AttentionOptions): AttentionSpec {
  const site = captureCallSite(1);
  const location: SourceLocation | undefined = site ? { ...site } : undefined;
  const fail = (code: 'KVF2003' | 'KVF2004' | 'KVF2005', detail: string, hint?: string): never => {
    throw new KvforgeError(code, detail, { location, hint });
  };
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    fail('KVF2005', `defineAttention takes an options object, got ${o === null ? 'null' : Array.isArray(o) ? 'an array' : typeof o}`,
      'defineAttention({ heads: { q: 32, kv: 4 }, headDim: 64, mask: causal })');
  }
  const { heads } = o;
  if (!heads || !isPosInt(heads.q) || !isPosInt(heads.kv)) {
    fail('KVF2003', `heads must be positive integers, got q=${heads?.q} kv=${heads?.kv}`, 'e.g. heads: { q: 32, kv: 4 }');
  }
  if (heads.q % heads.kv !== 0) {
    fail('KVF2003', `Hq=${heads.q} is not a multiple of Hkv=${heads.kv}`,
      `try kv = ${divisors(heads.q).filter((d) => d <= heads.kv).pop()} (a divisor of ${heads.q}), or q = ${Math.ceil(heads.q / heads.kv) * heads.kv}`);
  }
  const checkDim = (what: string, d: number): void => {
    if (!isPosInt(d) || d > MAX_HEAD_DIM) fail('KVF2004', `${what} must be an integer in 1..${MAX_HEAD_DIM}, got ${d}`);
  };
  checkDim('headDim', o.headDim);
  const valueDim = o.valueDim ?? o.headDim;
  checkDim('valueDim', valueDim);
  if (o.scale !== undefined && !(typeof o.scale === 'number' && Number.isFinite(o.scale))) {
    fail('KVF2005', `scale must be a finite number, got ${String(o.scale)}`, 'leave it out for 1 / sqrt(headDim)');
  }
  const mask = o.mask === undefined ? undefined : toMask(o.mask);
  let score: Bound<ScoreDef<any>> | undefined;
  if (o.score !== undefined) {
    const sc = o.score as unknown as { role?: unknown; def?: { role?: unknown } } | null;
    if (typeof sc !== 'object' || sc === null || (sc.role !== 'score' && sc.def?.role !== 'score')) {
      fail('KVF2005', `score must be a defineScore(...) result (bound with .with({...}) when it has parameters), got ${sc === null ? 'null' : typeof sc === 'function' ? 'a plain function' : typeof sc === 'object' ? 'an object that is not a score' : typeof sc}`,
        'declare it first: defineScore((s, b, h, q, k) => ..., { name })');
    }
    if ('def' in o.score) score = o.score;
    else if (Object.keys(o.score.params).length === 0) score = { def: o.score, values: {} };
    else fail('KVF2005', `score '${o.score.name}' has unbound parameters`, `bind them: ${o.score.name}.with({ ... })`);
  }
  const name = checkName(o.name ?? [mask ? maskName(mask) : 'dense', score?.def.name].filter(Boolean).join('+'), 'attention', location);
  return Object.freeze({
    kind: 'attention', name, heads: { q: heads.q, kv: heads.kv }, headDim: o.headDim, valueDim,
    scale: o.scale, mask, score, site,
  });
}

/**
 * Whether `x` is what defineAttention returns, checked structurally, not by identity: a spec may
 * come from another copy of kvforge (a user's file importing the installed package). Used
 * wherever a spec comes in from outside: loading a user's module, and compile().
 */
export function isAttentionSpec(x: unknown): x is AttentionSpec {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(x) || x.kind !== 'attention') return false;
  const heads = x.heads;
  return isObject(heads) && isPosInt(heads.q) && isPosInt(heads.kv) && isPosInt(x.headDim) && isPosInt(x.valueDim)
    && typeof x.name === 'string' && (x.mask === undefined || isObject(x.mask)) && (x.score === undefined || isObject(x.score));
}

/** The scale a spec uses. */
export function specScale(spec: AttentionSpec): number {
  return spec.scale ?? 1 / Math.sqrt(spec.headDim);
}

function isPosInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}
