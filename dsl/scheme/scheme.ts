/**
 * scheme(): a cross-layer KV sharing scheme as plain data (semantics.md section 2): the shape of
 * its attention, the layer table (who reads whose keys and values, who slides), the window, the
 * diagonal option, the iteration counts of parallel prefill, the decode mode and attention
 * overrides that apply to every layer. Validated here, at the user's line.
 */
import { captureCallSite } from '../callsite.ts';
import { KvforgeError, type SourceLocation } from '../diagnostics.ts';
import { defineAttention } from '../attention.ts';
import type { Bound, ScoreDef } from '../define.ts';
import type { Mask, MaskLike } from '../mask.ts';
import { checkName } from '../name.ts';
import type { CallSite } from '../types.ts';
import type { LayerKv, LayerTable } from './layerTable.ts';
import { parseLayerTypes } from './layerTypes.ts';
import { budgetOf } from '../policy/budget.ts';
import { isCachePolicy, type CachePolicySpec } from '../policy/policy.ts';
import { isKvPattern, standard, type KvPattern } from './patterns.ts';

/** LCKV's defaults: sliding window 4096, m = 7 forward and b = 2 backward passes. */
export const DEFAULT_WINDOW = 4096;
export const DEFAULT_ITERATIONS = Object.freeze({ m: 7, b: 2 });
/** Bounds that keep every derived table small and every window an int32 kernel parameter. */
export const MAX_LAYERS = 4096;
export const MAX_PASSES = 1024;
export const MAX_WINDOW = 2 ** 31 - 1;

/**
 * 'exact' (decision): a top-attending layer's decode step t reads its target's tokens 0..t-1,
 * what parallel prefill computes. 'lckvLiteralZeroFill': LCKV's public code, a zero slot
 * (logit 0, zero value) in front of tokens 0..t-2.
 */
export type DecodeMode = 'exact' | 'lckvLiteralZeroFill';
export type KvDType = 'f32' | 'f16' | 'bf16';

/** One entry of an explicit kv list: a layer index, or an object. */
export type LayerEntry =
  | number
  | { readonly from: number; readonly sliding?: boolean; readonly window?: number }
  | { readonly keysFrom: number; readonly valuesFrom: number; readonly sliding?: boolean; readonly window?: number };

export interface SchemeOptions {
  readonly layers: number;
  readonly heads: { readonly q: number; readonly kv: number };
  readonly headDim: number;
  /** @defaultValue headDim */
  readonly valueDim?: number;
  /**
   * Who reads whose KV: a `layer_types` string, a named pattern (lckv({ warmup: 2 }), cla(2), ...)
   * or an explicit list with one entry per layer. @defaultValue standard (every layer its own)
   */
  readonly kv?: string | KvPattern | readonly LayerEntry[];
  /** Keys a sliding layer sees, its own position included. @defaultValue the pattern's, else 4096 */
  readonly window?: number;
  /** Mask the diagonal in every layer (LCKV's published branch). @defaultValue false */
  readonly forceNoDiagonal?: boolean;
  /** Passes of a cyclic group in parallel prefill: m + b. @defaultValue { m: 7, b: 2 } */
  readonly iterations?: { readonly m?: number; readonly b?: number };
  /** @defaultValue 'exact' */
  readonly decode?: DecodeMode;
  /** A score function and an extra mask (and'ed) for every layer, and the score scale. */
  readonly attention?: { readonly score?: Bound<ScoreDef<any>> | ScoreDef<{}>; readonly mask?: MaskLike; readonly scale?: number };
  /** Storage dtype of the caches, for memory figures and the executor. @defaultValue 'bf16' */
  readonly dtype?: KvDType;
  /** @defaultValue the pattern's name, or 'custom' */
  readonly name?: string;
  /**
   * Cache policies (semantics.md section 3): one for every cache, or a list with an entry per
   * layer, set on the layers that own a cache (null or absent elsewhere). A shared cache is
   * compressed once, for all its readers. @defaultValue every cache keeps every token
   */
  readonly policy?: CachePolicySpec | readonly (CachePolicySpec | null | undefined)[];
}

export interface SchemeSpec {
  readonly kind: 'scheme';
  readonly name: string;
  readonly layers: number;
  readonly heads: { readonly q: number; readonly kv: number };
  readonly headDim: number;
  readonly valueDim: number;
  readonly table: LayerTable;
  readonly window: number;
  readonly forceNoDiagonal: boolean;
  readonly iterations: { readonly m: number; readonly b: number };
  readonly decode: DecodeMode;
  readonly attention: { readonly score: Bound<ScoreDef<any>> | undefined; readonly mask: Mask | undefined; readonly scale: number | undefined };
  readonly dtype: KvDType;
  /** By layer: the policy of the cache the layer owns (undefined: none, or the layer owns no cache). */
  readonly policies: readonly (CachePolicySpec | undefined)[];
  readonly site: CallSite | undefined;
}

const DTYPES: readonly KvDType[] = ['f32', 'f16', 'bf16'];
const OPTION_KEYS = ['layers', 'heads', 'headDim', 'valueDim', 'kv', 'window', 'forceNoDiagonal', 'iterations', 'decode', 'attention', 'dtype', 'name', 'policy'];

/**
 * Declare a sharing scheme.
 * @example
 * ```ts
 * import { scheme, lckv } from 'kvforge';
 * export const tinyLckv = scheme({ layers: 22, heads: { q: 32, kv: 4 }, headDim: 64, kv: lckv({ warmup: 2 }) });
 * export const fusedKv = scheme({ layers: 4, heads: { q: 8, kv: 2 }, headDim: 64,
 *   kv: [0, { keysFrom: 1, valuesFrom: 0 }, 1, { keysFrom: 1, valuesFrom: 0 }] });
 * ```
 */
export function scheme(o: SchemeOptions): SchemeSpec {
  const site = captureCallSite(1);
  const location: SourceLocation | undefined = site ? { ...site } : undefined;
  const fail = (detail: string, hint?: string): never => {
    throw new KvforgeError('KVF2009', detail, { location, hint });
  };
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    fail(`scheme takes an options object, got ${o === null ? 'null' : Array.isArray(o) ? 'an array' : typeof o}`,
      "scheme({ layers: 22, heads: { q: 32, kv: 4 }, headDim: 64, kv: '0_20_..._21' })");
  }
  const unknown = Object.keys(o).filter((k) => !OPTION_KEYS.includes(k));
  if (unknown.length) fail(`unknown option(s) ${unknown.map((k) => `'${k}'`).join(', ')}`, `options: ${OPTION_KEYS.join(', ')}`);
  if (!isPosInt(o.layers) || o.layers > MAX_LAYERS) fail(`layers must be an integer in 1..${MAX_LAYERS}, got ${String(o.layers)}`);
  const L = o.layers;

  // Heads, dims, score, extra mask and scale: checked by defineAttention, reported at this call.
  let attention: SchemeSpec['attention'];
  let valueDim: number;
  try {
    const probe = defineAttention({
      heads: o.heads, headDim: o.headDim, valueDim: o.valueDim, scale: o.attention?.scale,
      mask: o.attention?.mask, score: o.attention?.score, name: 'scheme',
    });
    attention = Object.freeze({ score: probe.score, mask: probe.mask, scale: probe.scale });
    valueDim = probe.valueDim;
  } catch (e) {
    if (e instanceof KvforgeError) throw new KvforgeError(e.code === 'KVF2005' ? 'KVF2009' : e.code, e.detail, { location, hint: e.hint });
    throw e;
  }
  if (o.attention !== undefined) {
    if (typeof o.attention !== 'object' || o.attention === null) fail('attention must be an object { score?, mask?, scale? }');
    const extra = Object.keys(o.attention).filter((k) => !['score', 'mask', 'scale'].includes(k));
    if (extra.length) fail(`attention: unknown field(s) ${extra.map((k) => `'${k}'`).join(', ')}`, 'attention takes score, mask and scale');
  }

  let table: LayerTable;
  let patternName: string | undefined;
  let patternWindow: number | undefined;
  const kv = o.kv ?? standard();
  try {
    if (typeof kv === 'string') table = parseLayerTypes(kv, L), patternName = undefined;
    else if (isKvPattern(kv)) table = kv.build(L), patternName = kv.name, patternWindow = kv.window;
    else if (Array.isArray(kv)) table = readEntries(kv, L);
    else return fail(`kv must be a layer_types string, a pattern such as lckv({ warmup: 2 }) or a list of ${L} entries, got ${kv === null ? 'null' : typeof kv}`);
  } catch (e) {
    if (e instanceof KvforgeError) throw new KvforgeError(e.code, e.detail, { location, hint: e.hint });
    throw e;
  }

  const window = o.window ?? patternWindow ?? DEFAULT_WINDOW;
  if (!isPosInt(window) || window > MAX_WINDOW) fail(`window must be an integer in 1..${MAX_WINDOW}, got ${String(o.window)}`);
  if (o.forceNoDiagonal !== undefined && typeof o.forceNoDiagonal !== 'boolean') fail(`forceNoDiagonal must be true or false, got ${String(o.forceNoDiagonal)}`);
  const it = o.iterations ?? {};
  if (typeof it !== 'object' || it === null) fail('iterations must be { m, b }');
  const m = it.m ?? DEFAULT_ITERATIONS.m, b = it.b ?? DEFAULT_ITERATIONS.b;
  if (Array.isArray(it)) fail('iterations must be { m, b }, got an array');
  const extraIt = Object.keys(it).filter((k) => k !== 'm' && k !== 'b');
  if (extraIt.length) fail(`iterations: unknown field(s) ${extraIt.map((k) => `'${k}'`).join(', ')}`, 'iterations takes m and b');
  if (!isPosInt(m) || m > MAX_PASSES) fail(`iterations.m must be an integer in 1..${MAX_PASSES}, got ${String(it.m)}`);
  if (!(Number.isInteger(b) && b >= 0 && b <= MAX_PASSES)) fail(`iterations.b must be an integer in 0..${MAX_PASSES}, got ${String(it.b)}`);
  const decode = o.decode ?? 'exact';
  if (decode !== 'exact' && decode !== 'lckvLiteralZeroFill') fail(`decode must be 'exact' or 'lckvLiteralZeroFill', got ${String(o.decode)}`);
  const dtype = o.dtype ?? 'bf16';
  if (!DTYPES.includes(dtype)) fail(`dtype must be one of ${DTYPES.join(', ')}, got ${String(o.dtype)}`);
  const name = checkName(o.name ?? patternName ?? 'custom', 'scheme', location);
  const policies = readPolicies(o.policy, table, fail, location);
  return Object.freeze({
    kind: 'scheme', name, layers: L, heads: Object.freeze({ q: o.heads.q, kv: o.heads.kv }), headDim: o.headDim, valueDim, table,
    window, forceNoDiagonal: o.forceNoDiagonal ?? false, iterations: Object.freeze({ m, b }), decode, attention, dtype, policies, site,
  });
}

/**
 * The policy of each cache-owning layer. Refused (KVF2009): a policy on a layer that owns no
 * cache, on a cache all of whose readers slide (it keeps their window already), or on a cache
 * that a layer taking keys and values from different layers links to another (the two must hold
 * the same tokens slot for slot, which per-cache compression does not promise). A pyramid
 * policy's budgets are checked for every owner (KVF2012).
 */
function readPolicies(x: SchemeOptions['policy'], table: LayerTable, fail: (d: string, h?: string) => never,
  location: SourceLocation | undefined): readonly (CachePolicySpec | undefined)[] {
  const L = table.length;
  if (x === undefined) return Object.freeze(new Array<CachePolicySpec | undefined>(L).fill(undefined));
  const owners = new Set<number>(), linked = new Set<number>();
  const readers = new Map<number, number[]>();
  table.forEach((l, i) => {
    owners.add(l.keysFrom), owners.add(l.valuesFrom);
    for (const src of new Set([l.keysFrom, l.valuesFrom])) readers.set(src, [...(readers.get(src) ?? []), i]);
    if (l.keysFrom !== l.valuesFrom) linked.add(l.keysFrom), linked.add(l.valuesFrom);
  });
  const hint = 'a policy from fullCache(), slidingCache(), sinkCache(), pyramidCache() or adaptiveCache()';
  let list: (CachePolicySpec | null | undefined)[];
  if (Array.isArray(x)) {
    if (x.length !== L) fail(`policy lists ${x.length} entries for ${L} layers`, 'one entry per layer (null on layers that own no cache), or one policy for every cache');
    list = [...x];
  } else {
    if (!isCachePolicy(x)) fail(`policy must be a cache policy or a list of them, got ${x === null ? 'null' : typeof x}`, hint);
    list = table.map((_, i) => (owners.has(i) ? (x as CachePolicySpec) : undefined));
  }
  return Object.freeze(list.map((p, i): CachePolicySpec | undefined => {
    if (p === null || p === undefined) return undefined;
    if (!isCachePolicy(p)) return fail(`policy[${i}] must be a cache policy, got ${typeof p}`, hint);
    if (!owners.has(i)) return fail(`policy[${i}]: layer ${i} owns no cache (no layer reads its keys or values)`, 'set the policy on the layer whose cache it reads');
    if (p.kind === 'full') return p;
    if ((readers.get(i) ?? []).every((r) => table[r]!.sliding)) {
      fail(`policy[${i}]: every reader of layer ${i}'s cache slides, so the cache keeps their window; it takes no ${p.kind} policy`, 'make the readers full-attention layers, or drop the policy');
    }
    if (linked.has(i)) fail(`policy[${i}]: layer ${i}'s cache is read together with another cache by a layer taking keys and values from different layers; compressing one of them apart from the other is not supported`);
    if (p.kind === 'pyramid') {
      try {
        budgetOf(p, i, L);
      } catch (e) {
        if (e instanceof KvforgeError) throw new KvforgeError(e.code, e.detail, { location: e.location ?? location, hint: e.hint });
        throw e;
      }
    }
    return p;
  }));
}

/** An explicit kv list: one entry per layer, every index in [0, L). */
function readEntries(list: readonly unknown[], L: number): LayerTable {
  const bad = (i: number, detail: string, hint?: string): never => {
    throw new KvforgeError('KVF2009', `kv[${i}]: ${detail}`, {
      hint: hint ?? 'an entry is a layer index, { from, sliding?, window? } or { keysFrom, valuesFrom, sliding?, window? }',
    });
  };
  if (list.length !== L) throw new KvforgeError('KVF2009', `kv lists ${list.length} entries for ${L} layers`);
  const layer = (i: number, what: string, x: unknown): number => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= L) bad(i, `${what} must be a layer index in 0..${L - 1}, got ${String(x)}`);
    return x as number;
  };
  for (let i = 0; i < list.length; i++) if (!(i in list)) bad(i, 'missing entry (a hole in the list)');
  return Object.freeze(list.map((e, i): LayerKv => {
    if (typeof e === 'number') return Object.freeze({ keysFrom: layer(i, 'the entry', e), valuesFrom: e, sliding: false });
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return bad(i, `expected a layer index or an object, got ${e === null ? 'null' : Array.isArray(e) ? 'an array' : typeof e}`);
    const r = e as Record<string, unknown>;
    const keys = Object.keys(r);
    const allowed = 'from' in r ? ['from', 'sliding', 'window'] : ['keysFrom', 'valuesFrom', 'sliding', 'window'];
    const extra = keys.filter((k) => !allowed.includes(k));
    if (extra.length) bad(i, `unknown field(s) ${extra.map((k) => `'${k}'`).join(', ')}`);
    const k = layer(i, 'from' in r ? 'from' : 'keysFrom', 'from' in r ? r.from : r.keysFrom);
    const v = 'from' in r ? k : layer(i, 'valuesFrom', r.valuesFrom);
    if (r.sliding !== undefined && typeof r.sliding !== 'boolean') bad(i, `sliding must be true or false, got ${String(r.sliding)}`);
    if (r.window !== undefined) {
      if (!isPosInt(r.window) || r.window > MAX_WINDOW) bad(i, `window must be an integer in 1..${MAX_WINDOW}, got ${String(r.window)}`);
      if (r.sliding !== true) bad(i, 'a window is given but the layer is not sliding', 'add sliding: true');
    }
    const row: LayerKv = r.window === undefined
      ? { keysFrom: k, valuesFrom: v, sliding: r.sliding === true }
      : { keysFrom: k, valuesFrom: v, sliding: true, window: r.window as number };
    return Object.freeze(row);
  }));
}

/** Whether x is what scheme() returns, structurally (it may come from another copy of kvforge). */
export function isSchemeSpec(x: unknown): x is SchemeSpec {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<SchemeSpec>;
  return s.kind === 'scheme' && isPosInt(s.layers) && Array.isArray(s.table) && s.table.length === s.layers && typeof s.name === 'string';
}

function isPosInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}
