/**
 * The one way text reaches generated source. Names, export names and file paths are written by the
 * user and may hold anything: a newline would end a `//` comment and make the rest of the name
 * C++ that runs when the addon loads; a `\` or a `??/` trigraph at the end of a line splices the
 * next line into the comment (a silently different kernel); `*` `/` ends a block comment; U+2028,
 * CR and NUL end lines for some tools. So user text is printed only as a C string literal in
 * printable ASCII ({@link quoteUserText}), and every line kvforge composes for a template is
 * checked ({@link generatorText}). Templates take {@link SafeText} fields, which only these two
 * functions make.
 */
import { internalError } from '../../dsl/diagnostics.ts';

declare const SAFE: unique symbol;
/** Text that is safe anywhere in C, C++ and CUDA source: inside a `//` or block comment, or as code. */
export type SafeText = string & { readonly [SAFE]: true };

// Bytes printed as themselves inside the literal: printable ASCII except the escape character,
// the quote, `?` (trigraphs: `??/` is a backslash in pre-C++17 modes and in C) and `*` (`*` `/`
// would close a block comment).
const PLAIN = /^[\x20-\x7e]$/;
const ESCAPED: Readonly<Record<string, string>> = { '\\': '\\\\', '"': '\\"', '?': '\\?', '*': '\\052', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` as a C/C++/CUDA string literal, quotes included, that means exactly `text`'s UTF-8 bytes
 * (a lone surrogate becomes U+FFFD, as UTF-8 encoding does). The result is printable ASCII; has
 * no `??`, no `*` `/` and no line terminator; and ends with `"`, never with `\`. So it is also
 * inert inside a comment, where kvforge prints names for humans.
 * @example quoteUserText('a\n#error "x"') === '"a\\n#error \\"x\\""'
 */
export function quoteUserText(text: string): SafeText {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    const esc = ESCAPED[ch];
    if (esc !== undefined) out += esc;
    // Octal escapes take at most three digits, so a digit after one is not swallowed (unlike \x).
    else if (byte < 0x80 && PLAIN.test(ch)) out += ch;
    else out += `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return `${out}"` as SafeText;
}

/** What a safe line may not hold: anything outside printable ASCII, a trigraph start, a block comment end, a trailing backslash. */
const UNSAFE = /[^\x20-\x7e]|\?\?|\*\/|\\$/;

/**
 * Text kvforge composed itself (kernel ids, hashes, plan JSON, fixed words, and user text only
 * through {@link quoteUserText}), checked to be safe; anything else is a bug in kvforge.
 */
export function generatorText(text: string): SafeText {
  if (UNSAFE.test(text)) internalError(`generated text is not safe to print into source: ${JSON.stringify(text.slice(0, 200))}`);
  return text as SafeText;
}

/** True when `text` could be printed by {@link generatorText} (what every template field must satisfy). */
export function isSafeText(text: string): boolean {
  return !UNSAFE.test(text);
}
