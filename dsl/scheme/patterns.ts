/**
 * Named sharing patterns (semantics.md section 2), each a function of the layer count so one
 * pattern serves any depth: `scheme({ layers: 22, ..., kv: lckv({ warmup: 2 }) })`.
 *
 * A pattern is a value, not a table: `scheme()` calls `build(layers)` and keeps only the table
 * and the pattern's name, so a spec stays plain data.
 */
import { KvforgeError } from '../diagnostics.ts';
import type { LayerKv, LayerTable } from './layerTable.ts';
import { parseLayerTypes } from './layerTypes.ts';

export interface KvPattern {
  readonly kind: 'kvPattern';
  /** e.g. 'lckv(warmup=2)', shown by inspect and in reports. */
  readonly name: string;
  /** The sliding window this pattern comes with (YOCO and MixAttention: 1024). */
  readonly window?: number;
  /** The table for `layers` layers; a count the pattern cannot serve is KVF2009. */
  build(layers: number): LayerTable;
}

const self = (i: number, sliding = false): LayerKv => Object.freeze({ keysFrom: i, valuesFrom: i, sliding });
const to = (j: number, sliding = false): LayerKv => Object.freeze({ keysFrom: j, valuesFrom: j, sliding });
const table = (rows: LayerKv[]): LayerTable => Object.freeze(rows);

function nonNegInt(what: string, x: unknown, pattern: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) {
    throw new KvforgeError('KVF2009', `${pattern}: ${what} must be a non-negative integer, got ${String(x)}`);
  }
  return x;
}

function pattern(name: string, build: (L: number) => LayerTable, window?: number): KvPattern {
  return Object.freeze({ kind: 'kvPattern' as const, name, window, build });
}

/** Standard attention: every layer its own KV (`0_1_..._{L-1}`). */
export function standard(): KvPattern {
  return pattern('standard', (L) => table(Array.from({ length: L }, (_, i) => self(i))));
}

/**
 * LCKV with `warmup` warm-up layers (even, at most L): layers [w/2, L - w/2) attend to layer
 * L - w/2 - 1, the others to themselves. warmup 0: every layer attends to the top layer; warmup 2
 * on 22 layers is `0_20_20_..._20_21`.
 */
export function lckv(o: { warmup: number }): KvPattern {
  const w = nonNegInt('warmup', o?.warmup, 'lckv');
  if (w % 2 !== 0) throw new KvforgeError('KVF2009', `lckv: warmup must be even (w/2 layers at each end), got ${w}`, { hint: `warmup: ${w - 1} or ${w + 1}` });
  return pattern(`lckv(warmup=${w})`, (L) => {
    if (w > L) throw new KvforgeError('KVF2009', `lckv: warmup ${w} is more than the ${L} layers`);
    const lo = w / 2, hi = L - w / 2, target = hi - 1;
    return table(Array.from({ length: L }, (_, i) => (i >= lo && i < hi ? to(target) : self(i))));
  });
}

export type Partition = 'pizza' | 'sandwich' | 'lasagna';
export type ShareTarget = 'bottom' | 'top' | 'middle';

/**
 * The cross-layer sharing study's nine configurations (semantics.md section 2, decision): n = L /
 * reduction KV layers. pizza: layers 0..n-2 self, n-1..L-1 one group; sandwich: a = floor((n-1)/2)
 * self layers below, c = n-1-a above, one group between; lasagna: consecutive groups of
 * `reduction` layers (the last may be shorter). Each group attends to its bottom, top or middle
 * (first + floor((last - first) / 2)) layer.
 */
export function crossLayer(partition: Partition, target: ShareTarget, o: { readonly reduction: number } | { readonly kvLayers: number }): KvPattern {
  const byN = o !== null && typeof o === 'object' && 'kvLayers' in o;
  const name = byN ? `${partition}-${target}(kvLayers=${(o as { kvLayers: number }).kvLayers})` : `${partition}-${target}(reduction=${(o as { reduction?: number })?.reduction})`;
  if (!['pizza', 'sandwich', 'lasagna'].includes(partition)) {
    throw new KvforgeError('KVF2009', `crossLayer: unknown partition '${String(partition)}'`, { hint: "'pizza', 'sandwich' or 'lasagna'" });
  }
  if (!['bottom', 'top', 'middle'].includes(target)) {
    throw new KvforgeError('KVF2009', `crossLayer: unknown target '${String(target)}'`, { hint: "'bottom', 'top' or 'middle'" });
  }
  const given = byN ? nonNegInt('kvLayers', (o as { kvLayers: number }).kvLayers, 'crossLayer') : nonNegInt('reduction', (o as { reduction: number })?.reduction, 'crossLayer');
  if (given < 1) throw new KvforgeError('KVF2009', `crossLayer: ${byN ? 'kvLayers' : 'reduction'} must be at least 1`);
  return pattern(name, (L) => {
    if (byN && given > L) throw new KvforgeError('KVF2009', `${name}: ${given} KV layers are more than the ${L} layers`);
    if (!byN && L % given !== 0 && partition !== 'lasagna') {
      throw new KvforgeError('KVF2009', `${name}: ${L} layers are not a multiple of the reduction ${given} (n = L / reduction KV layers must be an integer)`, {
        hint: `or give the KV layer count itself: crossLayer('${partition}', '${target}', { kvLayers: n })`,
      });
    }
    // n KV layers; lasagna's groups are `reduction` layers (the last may be shorter), or ceil(L / n) given n.
    const n = byN ? given : Math.ceil(L / given);
    const r = byN ? Math.ceil(L / given) : given;
    const pick = (first: number, last: number) => (target === 'bottom' ? first : target === 'top' ? last : first + Math.floor((last - first) / 2));
    const rows: LayerKv[] = Array.from({ length: L }, (_, i) => self(i));
    const group = (first: number, last: number) => {
      const t = pick(first, last);
      for (let i = first; i <= last; i++) rows[i] = to(t);
    };
    if (partition === 'pizza') group(n - 1, L - 1);
    else if (partition === 'sandwich') {
      const a = Math.floor((n - 1) / 2), c = n - 1 - a;
      if (a <= L - c - 1) group(a, L - c - 1);
    } else for (let first = 0; first < L; first += r) group(first, Math.min(L, first + r) - 1);
    return table(rows);
  });
}

/** LCKV's sandwich-middle: sandwich-middle with n = 3 (`0_10_..._10_21` on 22 layers). */
export function sandwichMiddle(): KvPattern {
  return pattern('sandwich-middle', (L) => {
    if (L < 3) throw new KvforgeError('KVF2009', `sandwich-middle needs at least 3 layers, got ${L}`);
    const last = L - 2, t = 1 + Math.floor((last - 1) / 2);
    return table(Array.from({ length: L }, (_, i) => (i === 0 || i === L - 1 ? self(i) : to(t))));
  });
}

/** Cross-Layer Attention, groups of k: lasagna-bottom (`0_0_2_2_...` for k = 2). */
export function cla(k: number): KvPattern {
  const r = nonNegInt('the group size', k, 'cla');
  if (r < 1) throw new KvforgeError('KVF2009', 'cla: the group size must be at least 1');
  return pattern(`cla-${r}`, (L) => table(Array.from({ length: L }, (_, i) => to(i - (i % r)))));
}

/**
 * YOCO as LCKV's README writes it: the lower half (floor(L/2) layers) sliding over themselves,
 * the rest attend to layer floor(L/2); window 1024.
 */
export function yoco(): KvPattern {
  return pattern('yoco', (L) => {
    if (L < 2) throw new KvforgeError('KVF2009', `yoco needs at least 2 layers, got ${L}`);
    const h = Math.floor(L / 2);
    return table(Array.from({ length: L }, (_, i) => (i < h ? self(i, true) : to(h))));
  }, 1024);
}

const MIX_PAIRS_22 = '0_1s_1s_3s_3s_3s_0_7s_7s_9s_9s_9s_12_13s_13s_15s_15s_15s_12_19s_19s_19s';

/**
 * MixAttention (pairs), exactly as LCKV's README gives it for 22 layers, window 1024. The README
 * has no rule for other depths, so other layer counts are KVF2009 rather than a guess.
 */
export function mixAttentionPairs(): KvPattern {
  return pattern('mixattention-pairs', (L) => {
    if (L !== 22) {
      throw new KvforgeError('KVF2009', `mixattention-pairs is defined for 22 layers (LCKV's README), got ${L}`, {
        hint: 'write the layers out: kv: layerTypes(...) or an explicit kv list',
      });
    }
    return parseLayerTypes(MIX_PAIRS_22, 22);
  }, 1024);
}

/** Whether x is a pattern, checked structurally (a spec may come from another copy of kvforge). */
export function isKvPattern(x: unknown): x is KvPattern {
  return typeof x === 'object' && x !== null && (x as KvPattern).kind === 'kvPattern' && typeof (x as KvPattern).build === 'function';
}

/**
 * A `layer_types` string as a pattern (`kv: layerTypes('0_20_..._21')`): parsed against the
 * scheme's layer count when scheme() builds it. A plain string as `kv` is the same thing.
 */
export function layerTypes(text: string): KvPattern {
  if (typeof text !== 'string') throw new KvforgeError('KVF2008', `layerTypes takes a string, got ${text === null ? 'null' : typeof text}`);
  return pattern('layer_types', (L) => parseLayerTypes(text, L));
}
