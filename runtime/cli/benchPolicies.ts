/** `kvforge bench-policies [--contexts 4096,16384] [--steps N] [--reps N] [--threads T] [--json]` */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { DEFAULT_POLICY_BENCH, formatPolicyBench, runPolicyBench } from '../bench/policyBench.ts';

export async function benchPoliciesCommand(o: { contexts: string; steps: number; reps: number; threads?: number; json?: boolean }): Promise<void> {
  const contexts = o.contexts.split(',').map((x) => Number(x.trim()));
  if (!contexts.length || contexts.some((c) => !Number.isInteger(c) || c <= o.steps)) {
    throw new KvforgeError('KVF3004', `--contexts must list integers above --steps (${o.steps}), received '${o.contexts}'`);
  }
  const r = await runPolicyBench({ contexts, steps: o.steps, reps: o.reps, threads: o.threads ?? DEFAULT_POLICY_BENCH.threads }, (s) => process.stderr.write(`${s}\n`));
  console.log(o.json ? JSON.stringify(r, null, 2) : formatPolicyBench(r));
}
