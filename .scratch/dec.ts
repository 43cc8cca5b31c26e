import { loadShipped } from '../runtime/api/shipped.ts';
import { randomFloats } from '../runtime/verify/random.ts';
const shipped = await loadShipped({});
const k = shipped.kernels.get('causalAttention')!;
const dtype = (process.argv[2] ?? 'f32') as 'f32' | 'bf16';
const B = Number(process.argv[3] ?? 1), L = 4096, Hkv = 4, D = 64, Hq = 32;
const sets = Number(process.argv[4] ?? 9);
const caches = Array.from({ length: sets }, (_, i) => {
  const c = k.createCache({ batch: B, capacity: L, dtype });
  const rows = B * L; const positions = new Int32Array(rows); let at = 0;
  for (let b = 0; b < B; b++) for (let j = 0; j < L; j++) positions[at++] = j;
  c.appendBatch(Array(B).fill(L), { k: randomFloats(rows * Hkv * D, 7 + i), v: randomFloats(rows * Hkv * D, 8 + i), positions });
  return c;
});
const q = randomFloats(B * Hq * D, 3), out = new Float32Array(B * Hq * D), lse = new Float32Array(B * Hq);
const positions = new Int32Array(B).fill(L - 1);
import { openDramProbe } from '../runtime/bench/dramProbe.ts';
const mode = process.argv[5] ?? 'plain';
const dram = openDramProbe((k as any).addon, 2, 64 * 2 ** 20);
const ts: number[] = [];
for (let r = 0; r < 400; r++) { if (mode === 'probe' && r % 16 === 0) await dram.sample(); if (mode === 'sleep' && r % 16 === 0) await new Promise((res) => setTimeout(res, 5)); const t0 = performance.now(); k.decodeSync(caches[r % sets]!, { q, positions, out, lse }, { threads: 2 }); ts.push(performance.now() - t0); }
ts.sort((a, b) => a - b);
const bytes = 2 * B * L * Hkv * D * (dtype === 'f32' ? 4 : 2);
console.log(dtype, B, 'median ms', ts[200]!.toFixed(3), 'min', ts[0]!.toFixed(3), 'GB/s', (bytes / ts[200]! / 1e6).toFixed(1));
