/** `kvforge fuzz [files...] [--runs N] [--seed S] [--threads T] [--target cpu|cuda|all]` */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { runCampaigns, runSchemeCampaigns } from './campaigns.ts';
import { loadSchemes } from '../../codegen/loadSchemes.ts';
import { userKernels } from './userKernels.ts';
import { compile } from '../api/compile.ts';
import type { CompiledAttention } from '../api/kernels.ts';
import { loadShipped } from '../api/shipped.ts';

export async function fuzzCommand(files: string[], o: { runs: number; seed: number; threads?: number; target?: string }): Promise<void> {
  const target = o.target ?? 'cpu';
  if (target !== 'cpu' && target !== 'cuda' && target !== 'all') {
    throw new KvforgeError('KVF3004', `--target must be cpu, cuda or all, received '${target}'`, { hint: 'cuda runs the schemes\' attention on the CUDA kernels (the emulator without a device)' });
  }
  const targets: ('cpu' | 'cuda')[] = target === 'all' ? ['cpu', 'cuda'] : [target];
  let kernels: CompiledAttention[];
  if (files.length) {
    // Every kernel gen writes for these files (each export's kernelPlans), not just a default one.
    const planned = await userKernels(files);
    console.log(`building ${planned.length} kernels from ${files.join(', ')}...`);
    kernels = await compile(planned.map(({ spec, plan }) => ({ spec, plan })));
  } else {
    // One kernel may ship under several names (a scheme's variant that is a configs/ kernel): once each.
    kernels = [...new Set((await loadShipped()).kernels.values())];
  }
  const kernelsFailed = await runCampaigns(kernels, { runs: o.runs, seed: o.seed, threads: o.threads }, (l) => console.log(l));
  console.log(`${kernels.length - kernelsFailed} passed, ${kernelsFailed} failed`);
  let failed = kernelsFailed;
  if (files.length) {
    const schemes = (await Promise.all(files.map((f) => loadSchemes(f, { orNone: true })))).flat();
    if (schemes.length) {
      console.log(`fuzzing ${schemes.length} scheme(s): the model executor against the float64 reference model...`);
      const r = await runSchemeCampaigns(schemes, { runs: o.runs, seed: o.seed, threads: o.threads, targets }, (l) => console.log(l));
      console.log(`${r.campaigns - r.failed - r.notRun} passed, ${r.failed} failed, ${r.notRun} not run (the executor or the target cannot run them)`);
      failed += r.failed;
    }
  }
  if (failed) throw new KvforgeError('KVF4001', `${failed} kernel(s) disagree with the reference`, { hint: 'the counterexample above replays with the same --seed' });
}

