/**
 * LCKV's `layer_types` string, both ways (semantics.md section 2).
 *
 * Grammar: one token per layer, separated by `_`; a token is a layer index `j` (decimal digits,
 * no sign, no leading zero unless it is `0`) optionally followed by `s`. Token i = `j`: layer i's
 * queries attend to the keys and values computed by layer j; `s`: layer i uses sliding-window
 * attention. Exactly one token per layer and every j in [0, L). Anything else is KVF2008, naming
 * the token, its layer and its character position (1-based) in the string.
 *
 * Stricter than LCKV's Python `int(...)`, which also takes `+1`, ` 1` and `01`: those are
 * rejected with the canonical spelling as the hint, so that print(parse(s)) === s for every
 * string parse accepts (a property test).
 */
import { KvforgeError } from '../diagnostics.ts';
import type { LayerKv, LayerTable } from './layerTable.ts';
import { printable } from '../name.ts';

const TOKEN = /^(0|[1-9][0-9]*)(s?)$/;

/** `'0_20s_21'` -> its layer table; `layers` (when given) is the count it must have. */
export function parseLayerTypes(text: string, layers?: number): LayerTable {
  if (typeof text !== 'string') {
    throw new KvforgeError('KVF2008', `layer_types must be a string, got ${text === null ? 'null' : typeof text}`, {
      hint: "e.g. '0_20_20_21': one layer index per layer, '_' between, 's' after an index for a sliding window",
    });
  }
  if (text.length === 0) {
    throw new KvforgeError('KVF2008', 'layer_types is empty', { hint: layers ? `give ${layers} tokens, e.g. ${standardTypes(layers)}` : 'e.g. 0_1_2_3' });
  }
  const tokens = text.split('_');
  const starts: number[] = [];
  for (let i = 0, at = 0; i < tokens.length; at += tokens[i].length + 1, i++) starts.push(at);
  const L = layers ?? tokens.length;
  const where = (i: number) => `token ${i} ('${shown(tokens[i])}', layer ${i}) at character ${starts[i] + 1}`;
  if (layers !== undefined && tokens.length !== layers) {
    throw new KvforgeError('KVF2008', `layer_types has ${tokens.length} tokens for ${layers} layers`, {
      hint: tokens.length < layers ? `add ${layers - tokens.length} token(s)` : `the extra tokens start at character ${starts[layers] + 1}`,
    });
  }
  const out: LayerKv[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const m = TOKEN.exec(t);
    if (!m) throw new KvforgeError('KVF2008', `${where(i)}: ${whyBad(t)}`, { hint: hintFor(t) });
    const j = Number(m[1]);
    if (j >= L) {
      throw new KvforgeError('KVF2008', `${where(i)}: layer ${shown(m[1])} is out of range: the scheme has ${L} layers (0..${L - 1})`);
    }
    out.push(Object.freeze({ keysFrom: j, valuesFrom: j, sliding: m[2] === 's' }));
  }
  return Object.freeze(out);
}

/** The table as a `layer_types` string; a table it cannot express is KVF2008. */
export function printLayerTypes(table: LayerTable): string {
  return table.map((l, i) => {
    if (l.keysFrom !== l.valuesFrom) {
      throw new KvforgeError('KVF2008', `layer ${i} takes keys from layer ${l.keysFrom} and values from layer ${l.valuesFrom}: layer_types has one source per layer`, {
        hint: 'keep the scheme as a kv list in TypeScript (kvforge gen/inspect read it as it is)',
      });
    }
    if (l.window !== undefined) {
      throw new KvforgeError('KVF2008', `layer ${i} has its own window (${l.window}): layer_types has one window for all sliding layers`);
    }
    return `${l.keysFrom}${l.sliding ? 's' : ''}`;
  }).join('_');
}

/** `0_1_..._{L-1}`: every layer its own KV. */
export function standardTypes(layers: number): string {
  return Array.from({ length: layers }, (_, i) => String(i)).join('_');
}

function whyBad(t: string): string {
  if (t.length === 0) return 'empty token (two `_` in a row, or one at an end)';
  if (/\s/.test(t)) return 'whitespace is not allowed';
  if (/^[+-]/.test(t)) return 'a sign is not allowed: a token is a layer index';
  if (/^0[0-9]/.test(t)) return 'leading zero';
  if (/^[0-9]+$/.test(t.replace(/s$/, '')) === false && /^[0-9]+/.test(t)) return `unknown suffix '${shown(t.replace(/^[0-9]+/, ''))}': the only suffix is 's' (sliding window)`;
  return 'not a layer index: expected digits, optionally followed by s';
}

function hintFor(t: string): string {
  const digits = /[0-9]+/.exec(t)?.[0];
  const canonical = digits === undefined || digits.length > 15 ? undefined : `${Number(digits)}${/[sS]\s*$/.test(t) ? 's' : ''}`;
  return canonical !== undefined && canonical !== t ? `did you mean '${canonical}'?` : "a token is a layer index such as 3, or 3s for a sliding-window layer";
}

/** A token as shown in a message: at most 20 characters, control characters escaped. */
function shown(t: string): string {
  return printable(t.length > 20 ? `${t.slice(0, 20)}...` : t);
}
