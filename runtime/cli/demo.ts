/**
 * `kvforge demo` (what `npm start` runs): the whole pipeline on the built-in configs:
 * generate -> build the addon -> a short fuzz campaign -> a short benchmark -> a summary.
 */
import os from 'node:os';
import path from 'node:path';
import { loadSchemes } from '../../codegen/loadSchemes.ts';
import { configFiles } from '../../codegen/loadSpecs.ts';
import { diffGenerated, generateFromFiles, writeGenerated } from '../../codegen/generate.ts';
import { formatBench, runBench } from '../bench/bench.ts';
import { runCompressReport } from '../bench/compressReport.ts';
import { runCampaigns, runSchemeCampaigns } from './campaigns.ts';
import { Executor } from '../model/executor.ts';
import { seededWeights } from '../model/weights.ts';
import { loadAddon } from '../api/native.ts';
import { CONFIGS_DIR, GENERATED_DIR, PACKAGE_ROOT } from '../build/paths.ts';
import { loadShipped } from '../api/shipped.ts';
import { readManifest } from '../../codegen/manifest.ts';
import { memoryFigures } from '../../codegen/scheme/cachePlan.ts';
import { schemeOfDeclaration, type ManifestScheme } from '../../codegen/scheme/manifestScheme.ts';

/** One line per shipped scheme: caches, KV bytes per token against standard, kernels it needs. */
function schemeSummary(schemes: readonly ManifestScheme[]): string[] {
  return schemes.map((m) => {
    const mem = memoryFigures(schemeOfDeclaration(m.declaration), 2048);
    const kernels = new Set(Object.values(m.kernels).flat()).size;
    return `${m.exportName.padEnd(20)} ${String(mem.caches).padStart(2)} of ${m.declaration.layers} layers cache KV, ${(mem.bytesPerToken / 1024).toFixed(1)} KiB/token at 2048 (${(mem.bytesPerToken / mem.standardBytesPerToken).toFixed(3)}x standard), ${kernels} kernel(s) for all layers, prefill and decode`;
  });
}

export async function demoCommand(): Promise<void> {
  const say = (s: string) => console.log(s);
  say('1/5 generate: configs/ -> generated/');
  const set = await generateFromFiles(configFiles(CONFIGS_DIR), PACKAGE_ROOT);
  const diffs = diffGenerated(set, GENERATED_DIR);
  if (diffs.length) {
    writeGenerated(set, GENERATED_DIR);
    say(`    updated generated/ (${diffs.length} files differed)`);
  }
  say(`    ${set.units.length} kernels: ${set.units.map(({ unit: u }) => (u.plan.target === 'cpp' ? u.name : `${u.name} (cuda ${u.plan.dtype})`)).join(', ')}`);

  say('2/5 build the addon (cmake-js; cached by content)');
  const shipped = await loadShipped();
  say(`    ${shipped.addon.cached ? 'from the cache' : `built in ${shipped.addon.seconds.toFixed(1)} s`}: ${shipped.addon.path}`);
  say(`    device: ${JSON.stringify(loadAddon(shipped.addon.path).deviceReport())}`);

  say('3/5 fuzz every kernel against the float64 reference (10 cases each, seed 42)');
  const kernels = [...new Set(shipped.kernels.values())];
  const failed = await runCampaigns(kernels, { runs: 10, seed: 42 }, say, '    ');

  say('4/5 sharing schemes (configs/schemes.ts, compiled into generated/manifest.json)');
  for (const line of schemeSummary(readManifest(GENERATED_DIR).schemes)) say(`    ${line}`);
  const shippedSchemes = new Map((await loadSchemes(path.join(CONFIGS_DIR, 'schemes.ts'))).map((n) => [n.exportName, n.scheme]));
  const lckv = { lckvW2: shippedSchemes.get('lckvW2')!, standardScheme: shippedSchemes.get('standardScheme')! };
  say('    LCKV and standard on the model executor (kernels over KV caches) against the float64 reference model:');
  const { failed: schemeRunsFailed } = await runSchemeCampaigns([{ exportName: 'lckvW2', scheme: lckv.lckvW2 }, { exportName: 'standardScheme', scheme: lckv.standardScheme }], { runs: 4, seed: 42 }, say, '    ');
  for (const [name, s] of [['lckvW2', lckv.lckvW2], ['standardScheme', lckv.standardScheme]] as const) {
    const ex = await Executor.create(seededWeights(s, { hiddenSize: 256, intermediateSize: 512, vocabSize: 1000, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false }, 0));
    const b = ex.newBatch(4);
    await ex.prefill(b, [[1, 2, 3], [4, 5], [6], [7, 8, 9, 10]]);
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) ex.step(b, [1, 2, 3, 4]);
    const tps = (4 * 4) / ((performance.now() - t0) / 1000);
    const kv = memoryFigures(s, 2048);
    say(`    ${name.padEnd(16)} decode ${tps.toFixed(1)} tokens/s (batch 4, hidden 256, native decode step), KV ${(kv.bytesPerToken / 1024).toFixed(1)} KiB/token`);
    ex.disposeBatch(b);
  }
  // One compression policy on the standard scheme: what it saves and what it costs (issue 9).
  say('    a cache policy on standardScheme (`kvforge compress-report` sweeps budgets and plots them):');
  const [policyRow] = await runCompressReport({ scheme: lckv.standardScheme, family: 'pyramid', budgets: [32], prompt: 128, steps: 8, seed: 0, sinks: 4 });
  const held = policyRow!.kvBytes / policyRow!.fullKvBytes;
  say(`    ${policyRow!.policy}: KV bytes ${(100 * (1 - held)).toFixed(1)}% saved at 136 tokens; attention error ${policyRow!.attentionErrorMean.toExponential(2)} (mean), logits error ${policyRow!.logitErrorMean.toExponential(2)} (mean max), top-1 agreement ${(100 * policyRow!.top1).toFixed(0)}% (seeded weights)`);

  say('5/5 benchmark (quick; `kvforge bench` for the full table)');
  const report = await runBench(shipped, { threads: os.availableParallelism(), reps: 5, warmup: 1, quick: true }, (s) => say(`    ${s}`));
  say(formatBench(report));
  say('');
  say(failed ? `summary: ${failed} kernel(s) FAILED the fuzz campaign` : `summary: ${kernels.length} kernels generated, built and verified`);
  if (schemeRunsFailed) say(`summary: ${schemeRunsFailed} scheme(s) FAILED executor = reference`);
  if (failed || schemeRunsFailed) process.exitCode = 1;
}
