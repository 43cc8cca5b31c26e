/** `kvforge bench-schemes [--batch N] [--budget MiB] [--steps N] [--threads T]` */
import { formatSchemeBench, runSchemeBench } from '../bench/schemeBench.ts';

export async function benchSchemesCommand(o: { batch: number; budget: number; steps: number; threads?: number }): Promise<void> {
  const rows = await runSchemeBench({ batch: o.batch, budgetMiB: o.budget, steps: o.steps, threads: o.threads }, (s) => process.stderr.write(`${s}\n`));
  console.log(formatSchemeBench(rows, { batch: o.batch, budgetMiB: o.budget }));
}
