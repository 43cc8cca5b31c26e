/**
 * The executor's dense operations on float32 rows (accumulated in float64), row-major weights
 * [out, in]. Kept apart from the reference model's float64 math (runtime/verify/modelMath.ts) on
 * purpose: the reference is the oracle and must not share code with what it checks.
 * (A native register-blocked GEMM replaces these for speed: the open part of issue 8.)
 */

/** Y[r] = W X[r] for `rows` rows of X [rows, cols] -> Y [rows, out]. */
export function linear(W: Float32Array, X: Float32Array, rows: number, cols: number, out: number): Float32Array {
  const Y = new Float32Array(rows * out);
  for (let r = 0; r < rows; r++) {
    const xo = r * cols;
    for (let o = 0; o < out; o++) {
      const wo = o * cols;
      let s = 0;
      for (let c = 0; c < cols; c++) s += W[wo + c] * X[xo + c];
      Y[r * out + o] = s;
    }
  }
  return Y;
}

/** RMSNorm of each row of X [rows, H] with weight w [H]. */
export function rmsNormRows(X: Float32Array, w: Float32Array, rows: number, H: number, eps: number): Float32Array {
  const Y = new Float32Array(rows * H);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < H; i++) ss += X[r * H + i] * X[r * H + i];
    const inv = 1 / Math.sqrt(ss / H + eps);
    for (let i = 0; i < H; i++) Y[r * H + i] = X[r * H + i] * inv * w[i];
  }
  return Y;
}

/** Rotate-half RoPE of each row's `heads` heads of `dim` at the row's position, in place. */
export function ropeRows(X: Float32Array, rows: number, heads: number, dim: number, positions: ArrayLike<number>, theta: number): void {
  const half = dim >> 1;
  const inv = Float64Array.from({ length: half }, (_, j) => Math.pow(theta, (-2 * j) / dim));
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < half; j++) {
      const a = positions[r] * inv[j], c = Math.cos(a), s = Math.sin(a);
      for (let h = 0; h < heads; h++) {
        const o = (r * heads + h) * dim;
        const x1 = X[o + j], x2 = X[o + j + half];
        X[o + j] = x1 * c - x2 * s;
        X[o + j + half] = x2 * c + x1 * s;
      }
    }
  }
}

/** Index of the largest of x[at .. at + n) (the first, on ties): greedy decoding. */
export function argmax(x: ArrayLike<number>, at: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[at + i] > x[at + best]) best = i;
  return best;
}

/** X += Y, elementwise. */
export function addInPlace(X: Float32Array, Y: Float32Array): void {
  for (let i = 0; i < X.length; i++) X[i] += Y[i];
}

/** down(silu(gate x) * up x) for each row. */
export function swigluRows(X: Float32Array, gate: Float32Array, up: Float32Array, down: Float32Array, rows: number, H: number, I: number): Float32Array {
  const g = linear(gate, X, rows, H, I), u = linear(up, X, rows, H, I);
  for (let i = 0; i < g.length; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
  return linear(down, g, rows, I, H);
}
