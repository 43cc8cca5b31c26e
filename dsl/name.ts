/**
 * What a name may be: the `name` of defineMask, defineScore and defineAttention.
 *
 * A name is for humans: it appears in kernel ids (as a slug of its letters and digits), in
 * reports, error messages and, as an escaped string literal, in the comments of generated
 * source. So any text is accepted, quotes, backslashes, `* /`, `??/`, any script and any length
 * included, except characters that only make sense to hide or forge lines of output: control
 * characters (C0, DEL, C1: newline, CR, NUL, ESC...), the line and paragraph separators U+2028 and
 * U+2029, the bidirectional formatting controls ("Trojan Source") and lone surrogates. Rejecting
 * them here is a courtesy that points at the user's line; it is not what keeps generated code
 * safe: a spec is plain data and can be built without these checks, so the code generator escapes
 * every name it prints (codegen/backends/safeText.ts), whatever it holds.
 */
import { KvforgeError, type SourceLocation } from './diagnostics.ts';

const FORBIDDEN = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const FORBIDDEN_ALL = new RegExp(FORBIDDEN.source, 'gu');

const codePoint = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** `name` shown in a message: at most 60 characters, forbidden ones as `\u{...}` so none reaches a terminal. */
function shown(name: string): string {
  const head = name.length > 60 ? `${name.slice(0, 60)}...` : name;
  return `'${printable(head)}'`;
}

/** Text for a terminal: every forbidden character (above) as `\u{...}`, the rest as it is. */
export function printable(text: string): string {
  return text.replace(FORBIDDEN_ALL, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** Check a declared name (KVF2007): a non-empty string without the characters above. */
export function checkName(name: unknown, what: string, location: SourceLocation | undefined): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new KvforgeError('KVF2007', `the ${what} name must be a non-empty string, got ${typeof name === 'string' ? "''" : String(name)}`, {
      location, hint: "e.g. name: 'slidingWindow'",
    });
  }
  const bad = FORBIDDEN.exec(name);
  if (bad) {
    throw new KvforgeError('KVF2007', `the ${what} name ${shown(name)} holds ${codePoint(bad[0])} at index ${bad.index}`, {
      location, hint: 'a name is for humans: use letters, digits, spaces and punctuation, no control characters, line separators or bidirectional controls',
    });
  }
  return name;
}
