/**
 * kvforge's command line. Each command lives in its own file; this one wires them to commander
 * and turns kvforge's errors into messages (user errors without a stack, internal ones with).
 * The commands that generate code (gen, explain, demo) are imported when they run, so the others
 * (fuzz of shipped kernels, bench, device, resources) never load the code generator.
 */
import { Command, InvalidArgumentError } from 'commander';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { setDefaultProgress, terminalProgress } from '../build/addon.ts';
import { benchCommand } from './bench.ts';
import { deviceCommand } from './device.ts';
import { fuzzCommand } from './fuzz.ts';
import { inspectCommand } from './inspect.ts';
import { runCommand } from './run.ts';
import { benchSchemesCommand } from './benchSchemes.ts';
import { benchPoliciesCommand } from './benchPolicies.ts';
import { compressReportCommand } from './compressReport.ts';
import { resourcesCommand } from './resources.ts';
import { PACKAGE_ROOT } from '../build/paths.ts';
import { ownManifest } from '../build/packageRoot.ts';

function int(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = v.trim() === '' ? NaN : Number(v);  // Number('') is 0
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`}, got '${v}'`);
    return n;
  };
}

function positive(name: string) {
  return (v: string): number => {
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > 1e9) throw new InvalidArgumentError(`${name} must be a positive number up to 1e9, got '${v}'`);
    return n;
  };
}

const program = new Command('kvforge')
  .description('Declare attention variants in TypeScript; generate, build and fuzz specialised kernels.')
  .version(ownManifest(PACKAGE_ROOT).version, '-V, --version', "print kvforge's version")
  .showHelpAfterError();

program.command('gen')
  .description('generate kernels: configs/ -> generated/ (default), or your own .ts files -> --out')
  .argument('[files...]', 'TypeScript files exporting defineAttention(...) variants')
  .option('--check', 'do not write: fail when the output differs from what is on disk')
  .option('--out <dir>', 'output folder for your own files', 'kvforge-generated')
  .option('--force', 'write into a non-empty --out folder gen did not create (overwrites only the files gen generates; deletes none of yours)')
  .action(async (...a: Parameters<typeof import('./gen.ts').genCommand>) => (await import('./gen.ts')).genCommand(...a));

program.command('fuzz')
  .description('fuzz kernels against the float64 reference: the shipped ones, or your own files')
  .argument('[files...]', 'TypeScript files exporting defineAttention(...) variants')
  .option('--runs <n>', 'cases per kernel', int('--runs', 1), 50)
  .option('--seed <s>', 'fast-check seed', int('--seed', 0), 42)
  .option('--threads <n>', 'kernel threads', int('--threads', 1))
  .option('--target <t>', "schemes: where the executor's attention runs, cpu, cuda (emulated without a device) or all", 'cpu')
  .action(fuzzCommand);

program.command('bench')
  .description('benchmark the shipped kernels against the TS reference and onnxruntime GQA')
  .option('--json', 'print JSON instead of a table')
  .option('--reps <n>', 'timed repetitions per case', int('--reps', 1), 9)
  .option('--threads <n>', 'threads for kvforge and ORT', int('--threads', 1))
  .option('--quick', 'only the main cases, fewer repetitions')
  .action(benchCommand);

program.command('bench-schemes')
  .description('the model executor at a fixed shape for standard, LCKV, CLA-2, YOCO: KV bytes, tokens/s, largest batch, attention share')
  .option('--batch <n>', 'the equal batch of the tokens/s column', int('--batch', 1), 4)
  .option('--budget <MiB>', 'KV memory budget of the largest-batch columns', int('--budget', 1), 256)
  .option('--steps <n>', 'decode steps timed at the equal batch (median)', int('--steps', 1), 3)
  .option('--threads <n>', 'kernel threads', int('--threads', 1))
  .action(benchSchemesCommand);

program.command('bench-policies')
  .description('what cache policies cost: the attention-mass output against plain attention, and executor decode under each policy at two contexts')
  .option('--contexts <list>', 'context lengths of the decode rows', '4096,16384')
  .option('--steps <n>', 'decode steps per row (median)', int('--steps', 1), 16)
  .option('--reps <n>', 'interleaved rounds of the mass rows', int('--reps', 1), 9)
  .option('--threads <n>', 'kernel threads', int('--threads', 1))
  .option('--json', 'print JSON instead of tables')
  .action(benchPoliciesCommand);

program.command('compress-report')
  .description("a cache policy's memory and quality trade-off on a scheme: KV bytes, attention and logit error, top-1 agreement, for a sweep of budgets")
  .argument('[file]', 'a scheme file (default configs/schemes.ts) or a model folder')
  .argument('[export]', 'the scheme export (default standardScheme)')
  .option('--policy <family>', 'pyramid, sinks, sliding or adaptive', 'pyramid')
  .option('--budgets <list>', 'pyramid: L0; sinks: windowLength; sliding: window; adaptive: T', '16,32,64,128')
  .option('--prompt <n>', 'prompt tokens (seeded)', int('--prompt', 1), 256)
  .option('--steps <n>', 'decode steps compared', int('--steps', 1), 32)
  .option('--seed <s>', 'seed of the weights and the prompt', int('--seed', 0), 0)
  .option('--sinks <n>', 'sink tokens (pyramid, sinks)', int('--sinks', 0))
  .option('--beta <b>', 'pyramid compression ratio', positive('--beta'))
  .option('--pooling <kind>', 'pyramid pooling: mean, max or best')
  .option('--png <file>', 'also write the trade-off plot as a PNG')
  .option('--json', 'print JSON instead of a table')
  .option('--hidden <n>', 'hidden size (scheme files)', int('--hidden', 1, 65536), 256)
  .option('--intermediate <n>', 'MLP width (scheme files)', int('--intermediate', 1, 262144), 512)
  .option('--vocab <n>', 'vocabulary size (scheme files)', int('--vocab', 2, 1_000_000), 1000)
  .option('--threads <n>', 'kernel threads', int('--threads', 1))
  .action(compressReportCommand);

program.command('explain')
  .description('print the IR after every pipeline stage, the plan and the generated C++')
  .argument('<file>', 'a TypeScript file exporting variants (e.g. configs/builtins.ts)')
  .argument('[export]', 'only this export')
  .action(async (...a: Parameters<typeof import('./explain.ts').explainCommand>) => (await import('./explain.ts')).explainCommand(...a));

program.command('inspect')
  .description('a sharing scheme, layer by layer: KV sources, diagonal, caches, iteration plan, kernels, KV memory')
  .argument('<file>', 'a TypeScript file exporting scheme(...) results, or an LCKV / Hugging Face config.json')
  .argument('[export]', 'only this export')
  .option('--json', 'print JSON instead of a table')
  .option('--context <n>', 'context length of the memory figures', int('--context', 1), 2048)
  .option('--budget <GiB>', 'KV memory budget of the largest-batch figure', positive('--budget'), 16)
  .action(inspectCommand);

program.command('run')
  .description('greedy generation on the model executor: a model folder, or a scheme with seeded weights')
  .argument('<source>', 'a Hugging Face-layout model folder, a scheme file or a config.json')
  .argument('[export]', 'the scheme export, when the file has several')
  .option('--prompt <text>', 'prompt text (model folders with a tokenizer.json)')
  .option('--tokens <ids>', 'prompt token ids, comma-separated (default 1,2,3,4)')
  .option('--steps <n>', 'tokens to generate', int('--steps', 1), 16)
  .option('--seed <s>', 'seed of the weights (scheme files)', int('--seed', 0), 0)
  .option('--hidden <n>', 'hidden size (scheme files)', int('--hidden', 1, 65536), 256)
  .option('--intermediate <n>', 'MLP width (scheme files)', int('--intermediate', 1, 262144), 512)
  .option('--vocab <n>', 'vocabulary size (scheme files)', int('--vocab', 2, 1_000_000), 1000)
  .option('--threads <n>', 'kernel threads', int('--threads', 1))
  .action(runCommand);

program.command('device')
  .description('what this build can run: compiled backends, SIMD, threads')
  .action(deviceCommand);

program.command('resources')
  .description('registers, shared memory, spills and occupancy of generated/cuda at sm_80 and sm_90 -> generated/resources.json')
  .option('--json', 'print the JSON report instead of a table')
  .option('--check', 'do not write: fail when generated/resources.json differs from a fresh report')
  .option('--verbose', 'print each compile and cache hit')
  .action(resourcesCommand);

program.command('demo')
  .description('the main job: generate, build, fuzz briefly, benchmark briefly, summarise')
  .action(async () => (await import('./demo.ts')).demoCommand());

// `kvforge explain ... | head` closes the pipe early: that is the reader being done, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(0);
});

// Builds show progress on stderr (one updating line on a terminal, a line at start and end elsewhere).
setDefaultProgress(terminalProgress(process.stderr));
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof KvforgeError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(e.code === 'KVF9001' ? 70 : 2);
  }
  process.stderr.write(`kvforge: internal error (a bug in kvforge; please report it):\n${(e as Error).stack ?? String(e)}\n`);
  process.exit(70);
}
