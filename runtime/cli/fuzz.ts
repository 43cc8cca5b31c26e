/** `kvforge fuzz [files...] [--runs N] [--seed S]` */
import path from 'node:path';
import { KvforgeError } from '../../codegen/diagnostics.ts';
import { loadSpecs } from '../../codegen/loadSpecs.ts';
import { runCampaigns } from './campaigns.ts';
import { compile, type CompiledAttention } from '../kernels.ts';
import { loadShipped } from '../shipped.ts';

export async function fuzzCommand(files: string[], o: { runs: number; seed: number; threads?: number }): Promise<void> {
  let kernels: CompiledAttention[];
  if (files.length) {
    const specs = [];
    for (const f of files) specs.push(...(await loadSpecs(path.resolve(f), process.cwd())));
    console.log(`building ${specs.length} kernels from ${files.join(', ')}...`);
    kernels = await compile(specs.map((s) => s.spec));
  } else {
    kernels = [...(await loadShipped()).kernels.values()];
  }
  const failed = await runCampaigns(kernels, { runs: o.runs, seed: o.seed, threads: o.threads }, (l) => console.log(l));
  console.log(`${kernels.length - failed} passed, ${failed} failed`);
  if (failed) throw new KvforgeError('KVF4001', `${failed} kernel(s) disagree with the reference`, { hint: 'the counterexample above replays with the same --seed' });
}
