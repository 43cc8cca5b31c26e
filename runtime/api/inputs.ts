/** The inputs of one attention call, and the default positions of semantics.md section 1. */

export interface AttentionInputs {
  /** Queries [B, Hq, Lq, D]. */
  readonly q: Float32Array;
  /** Keys [B, Hkv, Lk, D]. */
  readonly k: Float32Array;
  /** Values [B, Hkv, Lk, Dv]. */
  readonly v: Float32Array;
  readonly B: number;
  readonly Lq: number;
  readonly Lk: number;
  /** Token position of each query row. @defaultValue bottom-right: Lk - Lq + i */
  readonly qpos?: Int32Array;
  /** Token position held by each key slot. @defaultValue slot j holds position j */
  readonly kpos?: Int32Array;
}

/** Bottom-right alignment (as FlashAttention): query row i sits at position Lk - Lq + i. */
export function defaultQueryPositions(Lq: number, Lk: number): Int32Array {
  const p = new Int32Array(Lq);
  for (let i = 0; i < Lq; i++) p[i] = Lk - Lq + i;
  return p;
}

export function defaultKeyPositions(Lk: number): Int32Array {
  const p = new Int32Array(Lk);
  for (let j = 0; j < Lk; j++) p[j] = j;
  return p;
}
