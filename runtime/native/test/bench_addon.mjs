// The three perf-notes cases through the Node addon (what a JS caller sees, promise and
// libuv hop included):
//   node runtime/native/test/bench_addon.mjs [addon path] [threads]
import { createRequire } from 'node:module';

const addonPath = process.argv[2] ?? '/tmp/kvf-build/Release/kvforge.node';
const threads = Number(process.argv[3] ?? 2);
const kv = createRequire(import.meta.url)(addonPath);

const B = 1, Hq = 32, Hkv = 4, D = 64, Dv = 64;

function fillRandom(a, seed) {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

async function bench(name, kernel, Lq, Lk, admit, params, reps, caches) {
  const q = fillRandom(new Float32Array(B * Hq * Lq * D), 1);
  const kvs = Array.from({ length: caches }, (_, i) => [
    fillRandom(new Float32Array(B * Hkv * Lk * D), 10 + i), fillRandom(new Float32Array(B * Hkv * Lk * Dv), 100 + i)]);
  const args = {
    q, k: kvs[0][0], v: kvs[0][1],
    B, Hq, Hkv, Lq, Lk, D, Dv, scale: 1 / Math.sqrt(D), qpos: null, kpos: null,
    params: new Float64Array(params), threads,
  };
  const times = [];
  for (let r = -3; r < reps; r++) {
    [args.k, args.v] = kvs[(r + 3) % caches];
    const t0 = process.hrtime.bigint();
    await kv.forward(kernel, args);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r >= 0) times.push(ms);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(36)} median ${times[times.length >> 1].toFixed(3).padStart(8)} ms  (${threads} threads)`);
}

const ids = kv.listKernels();
const causal = ids.find((id) => id.startsWith('causal_'));
const window = ids.find((id) => id.startsWith('slidingWindow_'));
await bench('causal prefill L=1024', causal, 1024, 1024, (q, k) => k <= q, [], 15, 1);
await bench('window 256 L=4096', window, 4096, 4096, (q, k) => q - 256 < k && k <= q, [256], 9, 1);
await bench('decode 1x4096 (96 MiB of caches)', causal, 1, 4096, (q, k) => k <= q, [], 300, 12);
