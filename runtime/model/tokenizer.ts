/**
 * Text in and out for a model folder with a `tokenizer.json` (and, when present,
 * `tokenizer_config.json`), through Hugging Face's own JavaScript tokenizers
 * (@huggingface/tokenizers), not a tokenizer of kvforge's. A file that library cannot read, a
 * word it gives no id, or an id outside the model's vocabulary is KVF4014.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { KvforgeError } from '../../dsl/diagnostics.ts';

export interface TextCodec {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/** The folder's tokenizer, or undefined when it has no tokenizer.json. */
export function loadTokenizer(dir: string, vocabSize: number): TextCodec | undefined {
  const file = path.join(dir, 'tokenizer.json');
  if (!existsSync(file)) return undefined;
  const read = (f: string) => {
    try {
      return JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new KvforgeError('KVF4014', `${f}: not valid JSON (${(e as Error).message})`);
    }
  };
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(read(file), existsSync(cfgFile) ? read(cfgFile) : {});
  } catch (e) {
    if (e instanceof KvforgeError) throw e;
    throw new KvforgeError('KVF4014', `${file}: the tokenizer library cannot read it (${e instanceof Error ? e.message : String(e)})`);
  }
  return {
    encode(text) {
      const { ids, tokens } = tok.encode(text) as { ids: Array<number | undefined>; tokens: string[] };
      const bad = ids.findIndex((id) => !Number.isInteger(id) || id! < 0 || id! >= vocabSize);
      if (bad >= 0) {
        throw new KvforgeError('KVF4014', `${file}: '${tokens[bad]}' (piece ${bad} of the text) ${ids[bad] === undefined ? 'has no id' : `has id ${ids[bad]}, outside the model's vocabulary of ${vocabSize}`}`);
      }
      return ids as number[];
    },
    decode: (ids) => tok.decode([...ids]),
  };
}
