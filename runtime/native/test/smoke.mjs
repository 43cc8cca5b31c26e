// Smoke test of the built addon from Node: loads it, runs every export once, checks one forward
// against a float64 JS reference and that bad arguments reject with named, typed errors.
//   node --expose-gc runtime/native/test/smoke.mjs /tmp/kvf-build/Release/kvforge.node
// specs/native-harness.test.ts runs it on the shipped addon in `npm test`.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const addonPath = process.argv[2] ?? '/tmp/kvf-build/Release/kvforge.node';
const kv = createRequire(import.meta.url)(addonPath);

console.log('kernels:', kv.listKernels());
console.log('device:', JSON.stringify(kv.deviceReport()));

function randn(n, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

// Causal attention in float64 (bottom-right aligned positions).
function reference({ q, k, v, B, Hq, Hkv, Lq, Lk, D, Dv, scale }) {
  const out = new Float64Array(B * Hq * Lq * Dv), lse = new Float64Array(B * Hq * Lq);
  const G = Hq / Hkv;
  for (let b = 0; b < B; b++) for (let h = 0; h < Hq; h++) for (let i = 0; i < Lq; i++) {
    const row = (b * Hq + h) * Lq + i, hk = Math.floor(h / G), qp = Lk - Lq + i;
    const s = [];
    for (let j = 0; j <= Math.min(qp, Lk - 1); j++) {
      let d = 0;
      for (let x = 0; x < D; x++) d += q[row * D + x] * k[((b * Hkv + hk) * Lk + j) * D + x];
      s.push(scale * d);
    }
    if (s.length === 0) { lse[row] = -Infinity; continue; }
    const m = Math.max(...s);
    let l = 0;
    s.forEach((x, j) => {
      const w = Math.exp(x - m);
      l += w;
      for (let c = 0; c < Dv; c++) out[row * Dv + c] += w * v[((b * Hkv + hk) * Lk + j) * Dv + c];
    });
    for (let c = 0; c < Dv; c++) out[row * Dv + c] /= l;
    lse[row] = m + Math.log(l);
  }
  return { out, lse };
}

const B = 1, Hq = 4, Hkv = 2, Lq = 70, Lk = 90, D = 24, Dv = 20;
const args = {
  q: randn(B * Hq * Lq * D, 1), k: randn(B * Hkv * Lk * D, 2), v: randn(B * Hkv * Lk * Dv, 3),
  B, Hq, Hkv, Lq, Lk, D, Dv, scale: 1 / Math.sqrt(D), qpos: null, kpos: null,
  params: new Float64Array(0), threads: 2,
};
const kernel = kv.listKernels().find((id) => id.startsWith('causal'));
const first = await kv.forward(kernel, args);
assert.ok(first.out instanceof Float32Array && first.out.length === B * Hq * Lq * Dv, 'out: a new Float32Array [B, Hq, Lq, Dv]');
assert.ok(first.lse instanceof Float32Array && first.lse.length === B * Hq * Lq, 'lse: a new Float32Array [B, Hq, Lq]');
const ref = reference(args);
let worst = 0;
for (let i = 0; i < ref.out.length; i++) worst = Math.max(worst, Math.abs(ref.out[i] - first.out[i]));
for (let i = 0; i < ref.lse.length; i++) worst = Math.max(worst, Math.abs(ref.lse[i] - first.lse[i]));
console.log('forward max abs error vs float64:', worst);
assert.ok(worst < 1e-4);

async function rejects(mutate, kind, pattern) {
  const bad = { ...args, ...mutate };
  await assert.rejects(kv.forward(kernel, bad), (e) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e}`);
    assert.match(e.message, pattern);
    console.log('  rejected:', e.constructor.name, e.message);
    return true;
  });
}
await rejects({ k: new Float64Array(B * Hkv * Lk * D) }, TypeError,
  /^forward: argument 'k' must be a Float32Array of length 4320 \(B\*Hkv\*Lk\*D = 1\*2\*90\*24\), received Float64Array of length 4320$/);
await rejects({ q: new Float32Array(3) }, RangeError, /argument 'q' must be a Float32Array of length 6720/);
await rejects({ Hkv: 3 }, RangeError, /argument 'Hkv' must divide Hq/);
await rejects({ B: 0 }, RangeError, /argument 'B' must be a positive integer, received number 0/);
await rejects({ D: '24' }, TypeError, /argument 'D' must be a positive integer, received string '24'/);
await rejects({ qpos: new Float32Array(Lq) }, TypeError, /argument 'qpos' must be an Int32Array/);
await rejects({ threads: 0 }, RangeError, /argument 'threads'/);
await rejects({ params: undefined }, TypeError, /argument 'params' must be a Float64Array, received undefined/);
await assert.rejects(kv.forward('nope', args), (e) => e instanceof RangeError && /kernelId/.test(e.message));
await assert.rejects(kv.forward(kernel, null), (e) => e instanceof TypeError && /argument 'a'/.test(e.message));

// Out-of-memory is a rejection, not a crash: a huge Lk with tiny D would need gigabytes of
// packed keys only if it were valid; instead ask for a shape whose arrays exist but whose
// scratch cannot: not constructible cheaply from JS, so only check a probe error path here.
await assert.rejects(kv.probeRead(1, 2 ** 50, 0.1), (e) => /could not allocate/.test(e.message) && e.code === 'KVF_NATIVE_OUT_OF_MEMORY');
// The read probe over a caller's buffer: in place; the buffer is pinned while the probe runs.
{
  const n = 4 * 2 ** 20;
  const buf = new kv.NativeBuffer('cpu', 0, n);
  buf.upload(new Float32Array(n).fill(1), 0);
  const pending = kv.probeRead(2, buf, 0.05);
  assert.throws(() => buf.release(), (e) => e instanceof RangeError && /in flight/.test(e.message));
  assert.ok((await pending) > 0);
  buf.release();
  await assert.rejects(kv.probeRead(1, buf, 0.01), (e) => e instanceof RangeError && /released buffer/.test(e.message));
  const half = new kv.NativeBuffer('cpu', 2, 1024);
  await assert.rejects(kv.probeRead(1, half, 0.01), (e) => e instanceof RangeError && /must hold f32 values/.test(e.message));
  await assert.rejects(kv.probeRead(1, new kv.NativeBuffer('cpu', 0, 16), 0.01), (e) => e instanceof RangeError && /holds 16 values/.test(e.message));
  await assert.rejects(kv.probeRead(1, {}, 0.01), (e) => e instanceof TypeError && /byte count or a cpu f32 NativeBuffer/.test(e.message));
}

// Concurrent calls (the pool serialises parallel regions) give bitwise the same results as
// sequential ones, and a call's inputs may be dropped by JS while the kernel runs.
{
  const make = (seed) => ({ ...args, q: randn(args.q.length, seed) });
  const seq = [];
  for (let i = 0; i < 6; i++) seq.push((await kv.forward(kernel, make(50 + i))).out);
  const par = await Promise.all(Array.from({ length: 6 }, (_, i) => kv.forward(kernel, { ...make(50 + i), threads: 1 + (i % 3) })));
  par.forEach((r, i) => assert.deepEqual(r.out, seq[i], `concurrent call ${i} differs`));
  let pending = [];
  for (let i = 0; i < 4; i++) pending.push(kv.forward(kernel, make(70 + i)));  // args unreachable after this
  globalThis.gc?.();
  await Promise.all(pending);
  console.log('concurrent and unreferenced calls: ok');
}

// Degenerate shapes through the glue: Lq = 0 writes nothing, Lk = 0 gives zeros and -inf.
{
  const a0 = { ...args, Lq: 0, q: new Float32Array(0) };
  const r0 = await kv.forward(kernel, a0);
  assert.ok(r0.out.length === 0 && r0.lse.length === 0);
  const a1 = { ...args, Lk: 0, k: new Float32Array(0), v: new Float32Array(0) };
  const r1 = await kv.forward(kernel, a1);
  assert.ok(r1.out.length === args.q.length / D * Dv && r1.out.every((x) => x === 0) && r1.lse.every((x) => x === -Infinity));
  // The same for a decode-shaped call (Lq <= 8: run in place, on this thread).
  const a2 = { ...a1, Lq: 1, q: args.q.subarray(0, B * Hq * D), qpos: Int32Array.of(5) };
  const r2 = await kv.forward(kernel, a2);
  assert.ok(r2.out.length === B * Hq * Dv && r2.out.every((x) => x === 0) && r2.lse.every((x) => x === -Infinity));
  console.log('Lq = 0 and Lk = 0: ok');
}

// A KV cache read in place: the same causal rows through attend() (async, copies) and an
// AttendPlan (sync, in place; q also from a NativeBuffer), against the reference above. The cache
// takes token-major rows [n][Hkv][D]; queries are [rows][Hq][D] at positions Lk - Lq + i.
{
  const tokenMajor = (x, H, L, d) => {
    const t = new Float32Array(x.length);
    for (let h = 0; h < H; h++) for (let i = 0; i < L; i++) t.set(x.subarray((h * L + i) * d, (h * L + i + 1) * d), (i * H + h) * d);
    return t;
  };
  const cache = new kv.NativeCache('cpu', 1, Hkv, D, Dv, 0, 16);
  cache.grow(128);
  cache.append(tokenMajor(args.k, Hkv, Lk, D), tokenMajor(args.v, Hkv, Lk, Dv), Int32Array.from({ length: Lk }, (_, i) => i), Int32Array.of(0), Int32Array.of(Lk));
  assert.deepEqual(Array.from(cache.lengths()), [Lk, Lk]);
  const q = tokenMajor(args.q, Hq, Lq, D), qpos = Int32Array.from({ length: Lq }, (_, i) => Lk - Lq + i);
  const rowStart = Int32Array.of(0), rowCount = Int32Array.of(Lq);
  const scalars = { Hq, scale: args.scale, params: args.params, threads: 2 };
  const viaAttend = await kv.attend(kernel, 'cpu', cache, { q, qpos, rowStart, rowCount, ...scalars });
  const plan = new kv.AttendPlan(kernel, 'cpu', cache, scalars);
  const out = new Float32Array(Lq * Hq * Dv), lse = new Float32Array(Lq * Hq);
  plan.run(q, qpos, rowStart, rowCount, out, lse);
  assert.deepEqual(out, viaAttend.out, 'AttendPlan.run and attend() agree bitwise');
  assert.deepEqual(lse, viaAttend.lse);
  let err = 0;
  for (let h = 0; h < Hq; h++) for (let i = 0; i < Lq; i++) {
    for (let c = 0; c < Dv; c++) err = Math.max(err, Math.abs(out[(i * Hq + h) * Dv + c] - ref.out[(h * Lq + i) * Dv + c]));
    err = Math.max(err, Math.abs(lse[i * Hq + h] - ref.lse[h * Lq + i]));
  }
  assert.ok(err < 1e-4, `cache attention max abs error ${err}`);
  const qBuf = new kv.NativeBuffer('cpu', 0, q.length);
  qBuf.upload(q, 0);
  const out2 = new Float32Array(out.length);
  plan.run(qBuf, qpos, rowStart, rowCount, out2, lse);
  assert.deepEqual(out2, out, 'q from a NativeBuffer');
  // A wrapped object of the other class is refused by its type tag, never read as this one.
  assert.throws(() => plan.run(cache, qpos, rowStart, rowCount, out, lse), (e) => e instanceof TypeError && /'q'/.test(e.message));
  assert.throws(() => new kv.AttendPlan(kernel, 'cpu', qBuf, scalars), (e) => e instanceof TypeError && /must be a NativeCache/.test(e.message));
  await assert.rejects(kv.attend(kernel, 'cpu', qBuf, { q, qpos, rowStart, rowCount, ...scalars }), (e) => e instanceof TypeError && /must be a NativeCache/.test(e.message));
  await assert.rejects(kv.probeRead(1, cache, 0.01), (e) => e instanceof TypeError && /cpu f32 NativeBuffer/.test(e.message));
  assert.throws(() => plan.run(q, qpos, rowStart, Int32Array.of(Lq + 1), out, lse), (e) => e instanceof RangeError && /rowStart' and 'rowCount'/.test(e.message));
  await assert.rejects(kv.attend(kernel, 'cpu', cache, { q: qBuf, qpos, rowStart, rowCount, ...scalars }), (e) => e instanceof TypeError && /NativeBuffer/.test(e.message));
  qBuf.release();
  assert.throws(() => plan.run(qBuf, qpos, rowStart, rowCount, out, lse), (e) => e instanceof RangeError && /released buffer/.test(e.message));
  cache.release();
  assert.throws(() => plan.run(q, qpos, rowStart, rowCount, out, lse), (e) => e instanceof RangeError && /released/.test(e.message));
  console.log('KV cache: attend, AttendPlan, NativeBuffer: ok, max abs error vs float64:', err);
}

console.log('probeFma(2, 0.2):', (await kv.probeFma(2, 0.2)).toFixed(1), 'GFLOP/s');
console.log('probeRead(2, 256 MiB, 0.3):', (await kv.probeRead(2, 256 * 2 ** 20, 0.3)).toFixed(1), 'GB/s');
console.log('smoke: ok');
