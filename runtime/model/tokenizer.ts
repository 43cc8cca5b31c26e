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
  const json = read(file), config = existsSync(cfgFile) ? read(cfgFile) : {};
  try {
    tok = new Tokenizer(json, config);
  } catch (e) {
    throw new KvforgeError('KVF4014', `${file}${existsSync(cfgFile) ? ' (with tokenizer_config.json)' : ''}: the tokenizer library cannot read it (${e instanceof Error ? e.message : String(e)})`);
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
    // A model's vocabulary is often padded past the tokenizer's: an id it has no piece for is shown as <id N>.
    decode(ids) {
      try {
        return tok.decode([...ids]);
      } catch {
        return ids.map((id) => {
          try {
            return tok.decode([id]);
          } catch {
            return `<id ${id}>`;
          }
        }).join(' ');
      }
    },
  };
}
