/** `kvforge bench [--json] [--reps N] [--threads T] [--quick]` */
import os from 'node:os';
import { formatBench, runBench } from '../bench/bench.ts';
import { loadOrtPeer } from '../bench/peer.ts';
import { loadShipped } from '../api/shipped.ts';

export async function benchCommand(o: { json?: boolean; reps: number; threads?: number; quick?: boolean }): Promise<void> {
  await loadOrtPeer(); // a missing peer fails now, before the shipped kernels are built
  const shipped = await loadShipped();
  const report = await runBench(shipped, {
    threads: o.threads ?? os.availableParallelism(), reps: o.quick ? Math.min(o.reps, 5) : o.reps, warmup: 2, quick: o.quick ?? false,
  }, o.json ? undefined : (s) => process.stderr.write(`${s}\n`));
  console.log(o.json ? JSON.stringify(report, null, 2) : formatBench(report));
}
