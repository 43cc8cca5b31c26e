/**
 * `kvforge demo` (what `npm start` runs): the whole pipeline on the built-in configs:
 * generate -> build the addon -> a short fuzz campaign -> a short benchmark -> a summary.
 */
import os from 'node:os';
import { configFiles } from '../../codegen/loadSpecs.ts';
import { diffGenerated, generateFromFiles, writeGenerated } from '../../codegen/generate.ts';
import { formatBench, runBench } from '../bench/bench.ts';
import { runCampaigns } from './campaigns.ts';
import { loadAddon } from '../api/native.ts';
import { CONFIGS_DIR, GENERATED_DIR, PACKAGE_ROOT } from '../build/paths.ts';
import { loadShipped } from '../api/shipped.ts';

export async function demoCommand(): Promise<void> {
  const say = (s: string) => console.log(s);
  say('1/4 generate: configs/ -> generated/');
  const set = await generateFromFiles(configFiles(CONFIGS_DIR), PACKAGE_ROOT);
  const diffs = diffGenerated(set, GENERATED_DIR);
  if (diffs.length) {
    writeGenerated(set, GENERATED_DIR);
    say(`    updated generated/ (${diffs.length} files differed)`);
  }
  say(`    ${set.units.length} kernels: ${set.units.map(({ unit: u }) => (u.plan.target === 'cpp' ? u.name : `${u.name} (cuda ${u.plan.dtype})`)).join(', ')}`);

  say('2/4 build the addon (cmake-js; cached by content)');
  const shipped = await loadShipped();
  say(`    ${shipped.addon.cached ? 'from the cache' : `built in ${shipped.addon.seconds.toFixed(1)} s`}: ${shipped.addon.path}`);
  say(`    device: ${JSON.stringify(loadAddon(shipped.addon.path).deviceReport())}`);

  say('3/4 fuzz every kernel against the float64 reference (10 cases each, seed 42)');
  const failed = await runCampaigns([...shipped.kernels.values()], { runs: 10, seed: 42 }, say, '    ');

  say('4/4 benchmark (quick; `kvforge bench` for the full table)');
  const report = await runBench(shipped, { threads: os.availableParallelism(), reps: 5, warmup: 1, quick: true }, (s) => say(`    ${s}`));
  say(formatBench(report));
  say('');
  say(failed ? `summary: ${failed} kernel(s) FAILED the fuzz campaign` : `summary: ${shipped.kernels.size} kernels generated, built and verified`);
  if (failed) process.exitCode = 1;
}
