/**
 * `kvforge run <model folder | scheme file | config.json> [export]`: greedy generation on the model
 * executor. A model folder is loaded as it is (config.json, safetensors, tokenizer.json when there
 * is one: then --prompt is text and the output is text too); a scheme file or config.json runs
 * with seeded weights at the shape the options give. Prints the tokens and tokens/s of prefill and
 * of decode, measured on this run.
 */
import { statSync } from 'node:fs';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { printable } from '../../dsl/name.ts';
import { loadSchemes } from '../../codegen/loadSchemes.ts';
import type { ModelShape } from '../../dsl/scheme/modelShape.ts';
import { loadCheckpoint } from '../model/checkpoint.ts';
import { Executor } from '../model/executor.ts';
import { argmax } from '../model/greedy.ts';
import { loadTokenizer, type TextCodec } from '../model/tokenizer.ts';
import { seededWeights, type ModelWeights } from '../model/weights.ts';

export interface RunCommandOptions {
  readonly prompt?: string;
  readonly tokens?: string;
  readonly steps: number;
  readonly seed: number;
  readonly hidden: number;
  readonly intermediate: number;
  readonly vocab: number;
  readonly threads?: number;
}

/** The weights `run` (and compress-report) works on: a model folder, or a scheme file's export with seeded weights. */
export async function weightsFor(source: string, exportName: string | undefined, o: Pick<RunCommandOptions, 'seed' | 'hidden' | 'intermediate' | 'vocab'>): Promise<{ w: ModelWeights; codec?: TextCodec; what: string }> {
  let isDir = false;
  try {
    isDir = statSync(source).isDirectory();
  } catch {
    throw new KvforgeError('KVF4004', `no such file or folder: ${source}`);
  }
  if (isDir) {
    if (exportName !== undefined) throw new KvforgeError('KVF4004', `${source} is a model folder: it takes no export name (got '${printable(exportName)}')`);
    const w = loadCheckpoint(source);
    return { w, codec: loadTokenizer(source, w.model.vocabSize), what: `checkpoint ${source}` };
  }
  const all = await loadSchemes(source);
  const pick = exportName === undefined ? all : all.filter((n) => n.exportName === exportName);
  if (pick.length !== 1) {
    throw new KvforgeError('KVF4004', exportName === undefined ? `${source} exports ${all.length} schemes: name one` : `${source} has no scheme export '${printable(exportName)}'`, {
      hint: `its schemes: ${all.map((n) => n.exportName).join(', ')}`,
    });
  }
  const n = pick[0];
  const model: ModelShape = n.model ?? { hiddenSize: o.hidden, intermediateSize: o.intermediate, vocabSize: o.vocab, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false };
  return { w: seededWeights(n.scheme, model, o.seed), what: `${source}${n.exportName === 'config' ? '' : `: ${n.exportName}`} with seeded weights (seed ${o.seed})` };
}

function promptIds(o: RunCommandOptions, codec: TextCodec | undefined, vocab: number): number[] {
  if (o.prompt !== undefined && o.tokens !== undefined) throw new KvforgeError('KVF3004', 'give --prompt (text) or --tokens (ids), not both');
  if (o.prompt !== undefined) {
    if (!codec) throw new KvforgeError('KVF3004', '--prompt is text, and this model has no tokenizer.json', { hint: 'give token ids: --tokens 1,2,3' });
    const ids = codec.encode(o.prompt);
    if (ids.length === 0) throw new KvforgeError('KVF3004', '--prompt encodes to no token');
    return ids;
  }
  const parts = (o.tokens ?? '1,2,3,4').split(',').map((t) => t.trim());
  const bad = parts.findIndex((t) => !/^(0|[1-9][0-9]*)$/.test(t) || Number(t) >= vocab);
  if (bad >= 0) throw new KvforgeError('KVF3004', `--tokens: entry ${bad} ('${printable(parts[bad].slice(0, 20))}') is not a token id in 0..${vocab - 1}`, { hint: 'decimal ids separated by commas: --tokens 1,2,3' });
  return parts.map(Number);
}

export async function runCommand(source: string, exportName: string | undefined, o: RunCommandOptions): Promise<void> {
  const { w, codec, what } = await weightsFor(source, exportName, o);
  const prompt = promptIds(o, codec, w.model.vocabSize);
  const ex = await Executor.create(w, { threads: o.threads });
  const b = ex.newBatch(1);
  const V = w.model.vocabSize;
  try {
    const t0 = performance.now();
    const pre = await ex.prefill(b, [prompt]);
    const t1 = performance.now();
    const out = [argmax(pre, (prompt.length - 1) * V, V)];
    for (let i = 1; i < o.steps; i++) out.push(argmax(ex.step(b, [out[i - 1]]), 0, V));
    const t2 = performance.now();
    const s = w.scheme;
    console.log(`model: ${printable(what)}; scheme ${printable(s.name)}, ${s.layers} layers, ${ex.layers.filter((l) => l.computesKv).length} KV caches, heads ${s.heads.q}/${s.heads.kv}, head dim ${s.headDim}, hidden ${w.model.hiddenSize}, vocab ${V}`);
    console.log(`prompt (${prompt.length} tokens): ${prompt.join(' ')}`);
    console.log(`generated (${out.length} tokens, greedy): ${out.join(' ')}`);
    if (codec) console.log(`text: ${printable(codec.decode(out))}`);
    const decodeSteps = out.length - 1;
    console.log(`prefill ${(prompt.length / ((t1 - t0) / 1000)).toFixed(1)} tokens/s; decode ${decodeSteps ? (decodeSteps / ((t2 - t1) / 1000)).toFixed(1) : '-'} tokens/s (batch 1; dense layers still run in TypeScript)`);
  } finally {
    ex.disposeBatch(b);
  }
}
