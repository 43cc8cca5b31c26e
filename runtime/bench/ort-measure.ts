/**
 * Quick standalone measurement of the ORT GroupQueryAttention peer (no kvforge kernels involved):
 *
 *   npx tsx runtime/bench/ort-measure.ts [--threads 2] [--reps 7] [--decode-mib 128]
 *
 * Shape: B=1, Hq=32, Hkv=4, D=64. Cases: causal prefill L=1024 and L=4096, window 256 at L=4096,
 * decode Lq=1 over Lk=4096 with K/V rotated over `--decode-mib` MiB of distinct caches (and the same
 * decode on one hot cache for contrast). Cases are interleaved round by round; prints medians in ms.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { createOrtGqa, type OrtGqaCase, type OrtGqaInputs, type OrtGqaRunner } from './ort-gqa.ts';
import { interleave, median } from './stats.ts';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

function inputsFor(c: OrtGqaCase, seed: number): OrtGqaInputs {
  const r = prng(seed);
  const fill = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = r();
    return a;
  };
  return { q: fill(c.B * c.Hq * c.Lq * c.D), k: fill(c.B * c.Hkv * c.Lk * c.D), v: fill(c.B * c.Hkv * c.Lk * c.D) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      threads: { type: 'string', default: '2' },
      reps: { type: 'string', default: '7' },
      warmup: { type: 'string', default: '2' },
      'decode-mib': { type: 'string', default: '128' },
    },
  });
  const threads = Number(values.threads);
  const reps = Number(values.reps);
  const warmup = Number(values.warmup);
  const decodeMiB = Number(values['decode-mib']);
  const shape = { B: 1, Hq: 32, Hkv: 4, D: 64, threads };

  const specs: Array<{ name: string; c: OrtGqaCase; sets: number }> = [
    { name: 'prefill L=1024', c: { ...shape, Lq: 1024, Lk: 1024 }, sets: 1 },
    { name: 'prefill L=4096', c: { ...shape, Lq: 4096, Lk: 4096 }, sets: 1 },
    { name: 'window 256 L=4096', c: { ...shape, Lq: 4096, Lk: 4096, window: 256 }, sets: 1 },
  ];
  const decode: OrtGqaCase = { ...shape, Lq: 1, Lk: 4096 };
  const kvBytes = 2 * decode.B * decode.Hkv * decode.Lk * decode.D * 4;
  const decodeSets = Math.max(1, Math.ceil((decodeMiB * 2 ** 20) / kvBytes));
  specs.push({ name: `decode Lk=4096 (${decodeSets} caches, ${((decodeSets * kvBytes) / 2 ** 20).toFixed(0)} MiB)`, c: decode, sets: decodeSets });
  specs.push({ name: 'decode Lk=4096 (1 hot cache)', c: decode, sets: 1 });

  const runners: OrtGqaRunner[] = [];
  const cases = [];
  let seed = 1;
  for (const s of specs) {
    const r = await createOrtGqa(s.c);
    runners.push(r);
    const sets: OrtGqaInputs[] = [];
    for (let i = 0; i < s.sets; i++) sets.push(inputsFor(s.c, seed++));
    r.prepare(sets);
    let i = 0;
    cases.push({ name: s.name, run: () => r.runPrepared(i++) });
  }
  // decode is short: run it many times per round so its samples are not dominated by one call.
  const perRound = 64;
  const decodeNames = new Set(specs.filter((s) => s.c.Lq === 1).map((s) => s.name));
  for (const c of cases) {
    if (!decodeNames.has(c.name)) continue;
    const one = c.run;
    c.run = async () => {
      for (let j = 0; j < perRound; j++) await one();
    };
  }

  console.log(`ORT GroupQueryAttention (CPU, onnxruntime-node), B=1 Hq=32 Hkv=4 D=64, threads=${threads}, reps=${reps}`);
  const res = await interleave(cases, { warmup, reps });
  for (const [name, xs] of res) {
    const div = decodeNames.has(name) ? perRound : 1;
    const ms = xs.map((x) => x / div);
    console.log(
      `${name.padEnd(44)} median ${median(ms).toFixed(3).padStart(9)} ms   min ${Math.min(...ms).toFixed(3).padStart(9)}   max ${Math.max(...ms).toFixed(3).padStart(9)}` +
        (div > 1 ? `   (per call, ${div} calls/sample)` : ''),
    );
  }
  for (const r of runners) await r.release();
}

await main();
