/**
 * Float64 building blocks of the reference model (semantics.md section 2, Llama conventions),
 * written for clarity, not speed. Weights are row-major [out, in] (PyTorch Linear).
 */

/** y = W x for W [rows, cols]. */
export function matVec(W: ArrayLike<number>, x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * cols;
    for (let c = 0; c < cols; c++) s += W[o + c] * x[c];
    y[r] = s;
  }
  return y;
}

/** RMSNorm: x * w / sqrt(mean(x^2) + eps). */
export function rmsNorm(x: ArrayLike<number>, w: ArrayLike<number>, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * inv * w[i];
  return y;
}

/**
 * RoPE, rotate-half (Hugging Face Llama): in each head of `dim` values, the pair (j, j + dim/2)
 * rotates by pos * theta^(-2j/dim). In place on `heads` consecutive heads of x.
 */
export function ropeInPlace(x: Float64Array, heads: number, dim: number, pos: number, theta: number): void {
  const half = dim >> 1;
  for (let h = 0; h < heads; h++) {
    const o = h * dim;
    for (let j = 0; j < half; j++) {
      const angle = pos * Math.pow(theta, (-2 * j) / dim);
      const c = Math.cos(angle), s = Math.sin(angle);
      const a = x[o + j], b = x[o + j + half];
      x[o + j] = a * c - b * s;
      x[o + j + half] = b * c + a * s;
    }
  }
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** down(silu(gate x) * up x). */
export function swiglu(x: Float64Array, gate: ArrayLike<number>, up: ArrayLike<number>, down: ArrayLike<number>, H: number, I: number): Float64Array {
  const g = matVec(gate, x, I, H), u = matVec(up, x, I, H);
  for (let i = 0; i < I; i++) g[i] = silu(g[i]) * u[i];
  return matVec(down, g, H, I);
}
