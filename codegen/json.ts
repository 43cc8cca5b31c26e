/**
 * JSON that carries every number: what generated/manifest.json is written in.
 *
 * JSON has no -0, NaN or Infinity (JSON.stringify writes -0 as 0 and the others as null), yet the
 * IR and parameter values distinguish them: `s / -0` is not `s / 0`. Those numbers are written as
 * `{"$num": "-0"}` (`"NaN"`, `"Infinity"`, `"-Infinity"`); every other number is plain JSON, which
 * round-trips a double exactly. No object of kvforge's data has a `$num` key, so the form is
 * unambiguous; writing one is an internal error.
 */
import { internalError } from '../dsl/diagnostics.ts';

const BOX = '$num';
const SPECIAL: Readonly<Record<string, number>> = { '-0': -0, NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };

/** `value` as JSON text (indented by `indent`), special numbers boxed. */
export function stringifyData(value: unknown, indent = 2): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && (Object.is(v, -0) || !Number.isFinite(v))) return { [BOX]: Object.is(v, -0) ? '-0' : String(v) };
    if (typeof v === 'object' && v !== null && Object.hasOwn(v, BOX)) internalError(`data to write as JSON has a '${BOX}' key`);
    return v;
  }, indent);
}

/** Parse stringifyData's text back, special numbers unboxed. Throws SyntaxError on bad JSON. */
export function parseData(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    const s = (v as Record<string, unknown>)[BOX];
    return keys.length === 1 && keys[0] === BOX && typeof s === 'string' && Object.hasOwn(SPECIAL, s) ? SPECIAL[s] : v;
  });
}
