import { loadShipped } from '../runtime/api/shipped.ts';
import { randomFloats } from '../runtime/verify/random.ts';
const shipped = await loadShipped({});
const kernel = shipped.kernels.get('causalAttention')!;
const Hkv = 4, Hq = 32, D = 64, Dv = 64, n = Number(process.argv[2] ?? 1024);
const threads = Number(process.argv[3] ?? 2);
const pre = kernel.createCache({ batch: 1, capacity: n });
const kk = randomFloats(Hkv * n * D, 8), vv = randomFloats(Hkv * n * Dv, 9), qq = randomFloats(Hq * n * D, 10);
const positions = Int32Array.from({ length: n }, (_, i) => i);
const tm = (x: Float32Array, H: number, d: number) => { const t = new Float32Array(x.length);
  for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) t.set(x.subarray((h * n + i) * d, (h * n + i + 1) * d), (i * H + h) * d); return t; };
pre.append(0, { k: tm(kk, Hkv, D), v: tm(vv, Hkv, Dv), positions });
const qTok = tm(qq, Hq, D);
const a: number[] = [], b: number[] = [];
for (let r = 0; r < 30; r++) {
  let t0 = performance.now(); await kernel.prefill(pre, { q: qTok, positions, counts: [n] }, { threads }); a.push(performance.now() - t0);
  t0 = performance.now(); await kernel.run({ q: qq, k: kk, v: vv, B: 1, Lq: n, Lk: n }, { threads }); b.push(performance.now() - t0);
}
a.sort((x, y) => x - y); b.sort((x, y) => x - y);
console.log('cache prefill', a[15]!.toFixed(2), 'run', b[15]!.toFixed(2), 'ratio run/cache', (b[15]! / a[15]!).toFixed(2));
