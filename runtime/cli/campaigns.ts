/** Fuzz a list of kernels and print one line each (shared by `kvforge fuzz` and `kvforge demo`). */
import { fuzzKernel, type CampaignOptions } from '../verify/fuzz.ts';
import type { CompiledAttention } from '../api/kernels.ts';

/** Returns how many kernels failed; each failure's report (seed, counterexample) is printed. */
export async function runCampaigns(kernels: readonly CompiledAttention[], o: CampaignOptions, say: (s: string) => void, indent = ''): Promise<number> {
  let failed = 0;
  for (const k of kernels) {
    const r = await fuzzKernel(k, o);
    say(`${indent}${r.ok ? 'ok  ' : 'FAIL'} ${k.id.padEnd(36)} ${k.backend.padEnd(8)} ${k.unit.plan.dtype.padEnd(4)} ${r.runs} cases, seed ${r.seed}, ${r.seconds.toFixed(1)} s`);
    if (!r.ok) {
      failed++;
      say(r.failure!);
    }
  }
  return failed;
}
