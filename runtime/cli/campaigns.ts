/** Fuzz a list of kernels and print one line each (shared by `kvforge fuzz` and `kvforge demo`). */
import { fuzzKernel, type CampaignOptions } from '../verify/fuzz.ts';
import type { CompiledAttention } from '../api/kernels.ts';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { Executor } from '../model/executor.ts';
import { seededWeights } from '../model/weights.ts';
import { fuzzScheme, smallModel } from '../verify/schemeFuzz.ts';

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

/**
 * Scheme campaigns (verify/schemeFuzz.ts): the executor against the reference model, one line
 * per scheme and target ('cpu': the C++ kernels; 'cuda': the CUDA kernels, on the emulator where
 * no device answers). A scheme the executor cannot run (KVF2011), or whose shape a target's
 * kernels do not take (KVF2005: CUDA head dims), is reported as such and counted apart: it is
 * neither passed nor failed.
 */
export async function runSchemeCampaigns(
  schemes: readonly { readonly exportName: string; readonly scheme: SchemeSpec }[],
  o: { runs: number; seed: number; threads?: number; targets?: readonly ('cpu' | 'cuda')[] },
  say: (s: string) => void, indent = '',
): Promise<{ failed: number; notRun: number; campaigns: number }> {
  let failed = 0, notRun = 0, campaigns = 0;
  for (const target of o.targets ?? ['cpu']) {
    for (const { exportName, scheme } of schemes) {
      campaigns++;
      const name = `${exportName} (${target})`;
      let ex: Executor;
      try {
        ex = await Executor.create(seededWeights(scheme, smallModel(), 0), { threads: o.threads, target });
      } catch (e) {
        if (!(e instanceof KvforgeError) || (e.code !== 'KVF2011' && e.code !== 'KVF2005')) throw e;
        notRun++;
        say(`${indent}n/a  ${name}: ${e.detail}`);
        continue;
      }
      try {
        const r = await fuzzScheme(ex, { runs: o.runs, seed: o.seed });
        say(`${indent}${r.ok ? 'ok  ' : 'FAIL'} ${name}: executor = reference model (prefill, cached decode, token by token), ${r.runs} cases, seed ${r.seed}, ${r.seconds.toFixed(1)} s`);
        if (!r.ok) {
          failed++;
          say(r.failure!);
        }
      } finally {
        ex.dispose();
      }
    }
  }
  return { failed, notRun, campaigns };
}
