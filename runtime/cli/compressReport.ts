/**
 * `kvforge compress-report [file] [export]`: the memory/quality trade-off of a cache policy on a
 * scheme (runtime/bench/compressReport.ts) for a sweep of budgets, as a table, and as a PNG plot
 * (--png). Without a file: configs/schemes.ts's standardScheme with seeded weights.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { Pooling } from '../../dsl/policy/policy.ts';
import { CONFIGS_DIR } from '../build/paths.ts';
import { compressReportPng, formatCompressReport, runCompressReport, type PolicyFamily } from '../bench/compressReport.ts';
import { weightsFor } from './run.ts';

export interface CompressReportCommandOptions {
  readonly policy: string;
  readonly budgets: string;
  readonly prompt: number;
  readonly steps: number;
  readonly seed: number;
  readonly sinks?: number;
  readonly beta?: number;
  readonly pooling?: string;
  readonly png?: string;
  readonly json?: boolean;
  readonly hidden: number;
  readonly intermediate: number;
  readonly vocab: number;
  readonly threads?: number;
}

const FAMILIES: readonly PolicyFamily[] = ['pyramid', 'sinks', 'sliding', 'adaptive'];

/**
 * The sweep of --budgets: positive integers (window lengths, L0), or for adaptive thresholds T in
 * [0, 1]. Every entry must be a number: an empty entry ('', '4,,8') is refused, not read as 0.
 */
export function parseBudgets(family: PolicyFamily, list: string): number[] {
  const entries = list.split(',').map((x) => x.trim());
  const ok = (x: string) => {
    if (x === '') return false;
    const b = Number(x);
    return family === 'adaptive' ? Number.isFinite(b) && b >= 0 && b <= 1 : Number.isInteger(b) && b >= 1;
  };
  const bad = entries.find((x) => !ok(x));
  if (bad !== undefined) {
    throw new KvforgeError('KVF3004', `--budgets must be a comma-separated list of ${family === 'adaptive' ? 'thresholds T in [0, 1]' : 'positive integers'}, received '${list}' (entry '${bad}')`, {
      hint: family === 'adaptive' ? "e.g. --budgets 0.9,0.95,1" : 'e.g. --budgets 16,32,64',
    });
  }
  return entries.map(Number);
}

export async function compressReportCommand(file: string | undefined, exportName: string | undefined, o: CompressReportCommandOptions): Promise<void> {
  const family = o.policy as PolicyFamily;
  if (!FAMILIES.includes(family)) throw new KvforgeError('KVF3004', `--policy must be one of ${FAMILIES.join(', ')}, received '${o.policy}'`);
  const budgets = parseBudgets(family, o.budgets);
  if (o.pooling !== undefined && !['mean', 'max', 'best'].includes(o.pooling)) throw new KvforgeError('KVF3004', `--pooling must be mean, max or best, received '${o.pooling}'`);
  const source = file ?? path.join(CONFIGS_DIR, 'schemes.ts');
  const { w, what } = await weightsFor(source, file ? exportName : exportName ?? 'standardScheme', o);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log(`compress-report on ${what}`);
  const rows = await runCompressReport({
    scheme: w.scheme, weights: w, family, budgets, prompt: o.prompt, steps: o.steps, seed: o.seed,
    sinks: o.sinks, beta: o.beta, pooling: o.pooling as Pooling | undefined, threads: o.threads,
  }, log);
  if (o.json) console.log(JSON.stringify(rows, null, 2));
  else console.log(formatCompressReport(rows));
  if (o.png) {
    writeFileSync(o.png, compressReportPng(rows, `${w.scheme.name}: ${family} policy, prompt ${o.prompt} + ${o.steps} steps`));
    log(`wrote ${o.png}`);
  }
}
