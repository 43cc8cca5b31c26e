/**
 * Stable hashes of plain data: canonical JSON (sorted keys) through SHA-256.
 *
 * JSON has no NaN, Infinity or -0 (JSON.stringify writes -0 as 0), yet the IR distinguishes
 * them: `s / -0` and `s / 0` are different kernels. They are written as the strings `__NaN`,
 * `__Infinity`, `__-Infinity` and `__-0`, so two values that differ always hash differently.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return `__${String(v)}`;
    if (Object.is(v, -0)) return '__-0';
    return v;
  });
}

const SPECIAL: Readonly<Record<string, number>> = { '__NaN': NaN, '__Infinity': Infinity, '__-Infinity': -Infinity, '__-0': -0 };

/** Parse canonicalJson's text back, special numbers included (IR dumps, tests). */
export function parseCanonicalJson(text: string): unknown {
  return JSON.parse(text, (_key, v) => (typeof v === 'string' && Object.hasOwn(SPECIAL, v) ? SPECIAL[v] : v));
}

export function stableHash(value: unknown, length = 16): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, length);
}
