/**
 * classifyTiles: for each (query tile, key tile) decide from interval bounds whether the mask is
 * false everywhere in it (EMPTY: the kernel skips the tile), true everywhere (FULL: the kernel
 * skips the mask), or either (PARTIAL: the kernel evaluates the mask per element).
 *
 * No dense mask is built: each tile costs one interval evaluation of the mask over the ranges of
 * positions its rows and slots carry. The map is per (batch, query head) only when the mask reads
 * `b` or `h`; otherwise one map serves all of them (mapB = mapH = 1).
 *
 * Layout (what the kernels read): map[((bm * mapH + hm) * nQt + qt) * nKt + kt].
 */
import { freeVariables, type Expr } from '../ir/expr.ts';
import { boundIntervals, type Interval } from './boundIntervals.ts';

export const TILE_EMPTY = 0;
export const TILE_PARTIAL = 1;
export const TILE_FULL = 2;
export type TileClass = typeof TILE_EMPTY | typeof TILE_PARTIAL | typeof TILE_FULL;

export interface TileGrid {
  readonly B: number;
  readonly Hq: number;
  readonly tileQ: number;
  readonly tileK: number;
  /** Token position of each query row (length Lq). */
  readonly qpos: ArrayLike<number>;
  /** Token position of each key slot (length Lk). */
  readonly kpos: ArrayLike<number>;
  /** Values of the mask's int parameters. */
  readonly params: Readonly<Record<string, number>>;
}

export interface TileMap {
  readonly map: Uint8Array;
  readonly mapB: number;
  readonly mapH: number;
  readonly nQt: number;
  readonly nKt: number;
}

/** Parameter values as the point ranges the interval pass reads. */
function pointRanges(params: Readonly<Record<string, number>>): Record<string, Interval> {
  return Object.fromEntries(Object.entries(params).map(([name, v]) => [name, { lo: v, hi: v }]));
}

function classifyWith(mask: Expr, ranges: Record<'b' | 'h' | 'q' | 'k', Interval>, pRanges: Record<string, Interval>): TileClass {
  const r = boundIntervals(mask, { indices: ranges, params: pRanges });
  return r.hi === 0 ? TILE_EMPTY : r.lo === 1 ? TILE_FULL : TILE_PARTIAL;
}

/** Classify one tile of a mask given the ranges of its indices. */
export function classifyTile(mask: Expr, ranges: Record<'b' | 'h' | 'q' | 'k', Interval>, params: Readonly<Record<string, number>>): TileClass {
  return classifyWith(mask, ranges, pointRanges(params));
}

/** Min and max of `pos` over consecutive chunks of `tile` entries. */
export function tileRanges(pos: ArrayLike<number>, tile: number): Interval[] {
  const out: Interval[] = [];
  for (let start = 0; start < pos.length; start += tile) {
    let lo = Infinity;
    let hi = -Infinity;
    const end = Math.min(pos.length, start + tile);
    for (let i = start; i < end; i++) {
      const p = pos[i]!;
      if (p < lo) lo = p;
      if (p > hi) hi = p;
    }
    out.push({ lo, hi });
  }
  return out;
}

/** The whole tile map of `mask` (undefined = no mask: every tile FULL). */
export function classifyTiles(mask: Expr | undefined, g: TileGrid): TileMap {
  const qr = tileRanges(g.qpos, g.tileQ);
  const kr = tileRanges(g.kpos, g.tileK);
  const nQt = qr.length;
  const nKt = kr.length;
  if (!mask) return { map: new Uint8Array(nQt * nKt).fill(TILE_FULL), mapB: 1, mapH: 1, nQt, nKt };
  const used = freeVariables(mask).indices;
  const mapB = used.has('b') ? g.B : 1;
  const mapH = used.has('h') ? g.Hq : 1;
  const map = new Uint8Array(mapB * mapH * nQt * nKt);
  const pRanges = pointRanges(g.params); // once per map, not once per tile
  let i = 0;
  for (let b = 0; b < mapB; b++) {
    for (let h = 0; h < mapH; h++) {
      // When the mask does not read b (or h) its value does not depend on it: any point will do.
      const base = { b: { lo: b, hi: b }, h: { lo: h, hi: h } };
      for (let qt = 0; qt < nQt; qt++) {
        for (let kt = 0; kt < nKt; kt++) {
          map[i++] = classifyWith(mask, { ...base, q: qr[qt]!, k: kr[kt]! }, pRanges);
        }
      }
    }
  }
  return { map, mapB, mapH, nQt, nKt };
}

/** Fraction of tiles the kernel skips (EMPTY), for reports. */
export function skippedFraction(t: TileMap): number {
  if (t.map.length === 0) return 0;
  let empty = 0;
  for (const c of t.map) if (c === TILE_EMPTY) empty++;
  return empty / t.map.length;
}
