/**
 * Per-layer facts of a scheme (semantics.md section 2), derived from its layer table alone.
 *
 * - computesKv(i): some layer (possibly i) reads i's keys or values; only those layers own a cache,
 *   and a cache holds only what is read (keys, values or both).
 * - attendsTop(i): a source of i lies above i (max(keysFrom, valuesFrom) > i), so i runs before
 *   its target has computed the token's KV.
 * - diagonalMasked(i): attendsTop(i), or the scheme's forceNoDiagonal; the layer's mask is
 *   noDiagonal (k < q) instead of causal (k <= q).
 * - window(i): the keys a sliding layer sees, its own position included (its own window, else the
 *   scheme's); undefined for a full-attention layer.
 */
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';

export interface LayerInfo {
  readonly index: number;
  readonly keysFrom: number;
  readonly valuesFrom: number;
  readonly sliding: boolean;
  readonly window: number | undefined;
  readonly attendsTop: boolean;
  readonly diagonalMasked: boolean;
  readonly computesKv: boolean;
  /** What this layer's cache holds for its readers (both false when it computes no KV). */
  readonly cachesKeys: boolean;
  readonly cachesValues: boolean;
  /** Layers that read this layer's keys or values, ascending. */
  readonly readers: readonly number[];
}

/** The layer whose KV layer i waits for: its highest source. */
export function targetOf(s: Pick<SchemeSpec, 'table'>, i: number): number {
  const l = s.table[i];
  return Math.max(l.keysFrom, l.valuesFrom);
}

export function analyseLayers(s: SchemeSpec): readonly LayerInfo[] {
  const keyReaders: number[][] = s.table.map(() => []);
  const valueReaders: number[][] = s.table.map(() => []);
  s.table.forEach((l, i) => {
    keyReaders[l.keysFrom].push(i);
    valueReaders[l.valuesFrom].push(i);
  });
  return Object.freeze(s.table.map((l, i) => {
    const attendsTop = targetOf(s, i) > i;
    const readers = [...new Set([...keyReaders[i], ...valueReaders[i]])].sort((a, b) => a - b);
    return Object.freeze({
      index: i, keysFrom: l.keysFrom, valuesFrom: l.valuesFrom, sliding: l.sliding,
      window: l.sliding ? (l.window ?? s.window) : undefined,
      attendsTop, diagonalMasked: attendsTop || s.forceNoDiagonal,
      computesKv: readers.length > 0, cachesKeys: keyReaders[i].length > 0, cachesValues: valueReaders[i].length > 0,
      readers: Object.freeze(readers),
    });
  }));
}
