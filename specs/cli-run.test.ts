/**
 * `kvforge run` on a tiny model folder written by the test (config.json, model.safetensors with
 * LCKV's tensor names, a word-level tokenizer.json): text in, the reference model's greedy tokens
 * out, as text; and on a scheme file with seeded weights; bad prompts are coded errors.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scheme } from '../dsl/index.ts';
import { saveCheckpoint } from '../runtime/model/checkpoint.ts';
import { seededWeights } from '../runtime/model/weights.ts';
import { ReferenceModel } from '../runtime/verify/referenceModel.ts';
import { kvforge } from './support/cli.ts';

const words = ['<unk>', 'hello', 'world', 'the', 'cache', 'layer', 'keys', 'values', 'share', 'top', 'of', 'a', 'model', 'fast', 'small', 'token'];
const dir = mkdtempSync(path.join(os.tmpdir(), 'kvforge-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kvforge run', () => {
  const s = scheme({ layers: 4, heads: { q: 4, kv: 2 }, headDim: 8, kv: '0_3_3_3', dtype: 'f32', iterations: { m: 2, b: 1 } });
  const w = seededWeights(s, { hiddenSize: 16, intermediateSize: 32, vocabSize: words.length, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: true }, 31);
  saveCheckpoint(dir, w, { config: { model_type: 'lckv-llama' } });
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({
    version: '1.0', truncation: null, padding: null, normalizer: null, post_processor: null,
    added_tokens: [{ id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    pre_tokenizer: { type: 'Whitespace' }, decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordLevel', vocab: Object.fromEntries(words.map((x, i) => [x, i])), unk_token: '<unk>' },
  }));

  it('text in, greedy text out, the reference model\'s tokens', () => {
    const r = kvforge('run', dir, '--prompt', 'hello the world', '--steps', '5');
    expect(r.code, r.stderr).toBe(0);
    const ref = new ReferenceModel(w);
    const seq = ref.newSequence(0);
    let logits = [1, 3, 2].map((t) => ref.step(seq, t)).pop()!;
    const want: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = logits.indexOf(Math.max(...logits));
      want.push(t);
      logits = ref.step(seq, t);
    }
    expect(r.stdout).toContain('prompt (3 tokens): 1 3 2');
    expect(r.stdout).toContain(`generated (5 tokens, greedy): ${want.join(' ')}`);
    expect(r.stdout).toContain(`text: ${want.map((t) => words[t]).join(' ')}`);
    expect(r.stdout).toMatch(/prefill [\d.]+ tokens\/s; decode [\d.]+ tokens\/s/);
  });
  it('a word the tokenizer has no id for, and --prompt without a tokenizer, are coded errors', () => {
    expect(kvforge('run', dir, '--prompt', 'hello zebra').stderr).toMatch(/KVF4014.*'zebra' \(piece 1 of the text\) has no id/);
    expect(kvforge('run', 'specs/fixtures/fuzz-schemes.ts', 'mixed', '--prompt', 'hi').stderr).toMatch(/KVF3004.*--prompt is text, and this model has no tokenizer\.json[\s\S]*--tokens/);
    expect(kvforge('run', 'specs/fixtures/fuzz-schemes.ts', 'mixed', '--tokens', '1,x', '--vocab', '50').stderr).toMatch(/--tokens: entry 1 \('x'\) is not a token id in 0\.\.49/);
    expect(kvforge('run', 'specs/fixtures/fuzz-schemes.ts').stderr).toMatch(/exports 4 schemes: name one/);
  });
  it('a scheme file with seeded weights', () => {
    const r = kvforge('run', 'specs/fixtures/fuzz-schemes.ts', 'mixed', '--tokens', '3,1,4', '--steps', '3', '--hidden', '16', '--intermediate', '32', '--vocab', '50');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/generated \(3 tokens, greedy\): \d+ \d+ \d+/);
    expect(kvforge('run', 'specs/fixtures/fuzz-schemes.ts', 'literalSliding', '--vocab', '50').stderr).toMatch(/KVF2011/);
  });
  it('regressions: ids past the tokenizer print as <id N>; strict --tokens; --prompt with --tokens; an export on a folder', () => {
    const big = mkdtempSync(path.join(os.tmpdir(), 'kvforge-run-big-'));
    try {
      // A vocabulary padded past the tokenizer's 16 words.
      const w64 = seededWeights(s, { hiddenSize: 16, intermediateSize: 32, vocabSize: 64, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: true }, 31);
      saveCheckpoint(big, w64);
      writeFileSync(path.join(big, 'tokenizer.json'), readFileSync(path.join(dir, 'tokenizer.json')));
      const r = kvforge('run', big, '--tokens', '20,30,40', '--steps', '6');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^text: /m);
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
    for (const t of ['', '1,,2', '0x3', '1e1', '-1']) expect(kvforge('run', dir, '--tokens', t).stderr).toMatch(/KVF3004.*--tokens: entry/);
    expect(kvforge('run', dir, '--tokens', '1', '--prompt', 'hello').stderr).toMatch(/--prompt \(text\) or --tokens \(ids\), not both/);
    expect(kvforge('run', dir, 'someExport').stderr).toMatch(/is a model folder: it takes no export name/);
    expect(kvforge('run', 'specs/fixtures/fuzz-schemes.ts', 'mixed', '--vocab', '100000000').stderr).toMatch(/--vocab must be an integer in 2\.\.1000000/);
  });
});

