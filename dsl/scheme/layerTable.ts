/**
 * The layer table of a cross-layer KV sharing scheme (semantics.md section 2): for each layer,
 * which layer's keys and which layer's values its queries attend to, and whether it attends over
 * a sliding window. Plain, frozen data; every scheme form (LCKV's `layer_types` string, an
 * explicit list, a named pattern) ends up as one of these.
 */

/** One layer's row of the table. */
export interface LayerKv {
  /** Layer whose keys this layer's queries read (0-based; may be above this layer). */
  readonly keysFrom: number;
  /** Layer whose values it reads; equal to keysFrom except in schemes `layer_types` cannot say. */
  readonly valuesFrom: number;
  /** Sliding-window attention over `window` keys including the query's own position. */
  readonly sliding: boolean;
  /** This layer's window when sliding; undefined means the scheme's window. */
  readonly window?: number;
}

export type LayerTable = readonly LayerKv[];

/** Whether every layer takes keys and values from one layer and no layer has its own window. */
export function isLayerTypesExpressible(table: LayerTable): boolean {
  return table.every((l) => l.keysFrom === l.valuesFrom && l.window === undefined);
}
