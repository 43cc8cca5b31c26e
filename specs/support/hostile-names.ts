/**
 * Names that try to become code when printed into generated source, and the check that a source
 * text held them inert. Each payload, if it escaped its comment, would stop the build (`#error`),
 * abort the process when the addon loads (`__builtin_trap()` in a static initialiser), or write a
 * marker file when it loads.
 */
import os from 'node:os';
import path from 'node:path';

/** Written by the `fileMarker` payload if it ever runs. */
export const MARKER = path.join(os.tmpdir(), `kvforge-injection-marker-${process.pid}`);

const TRAP = 'static const int kvf_injected = (__builtin_trap(), 0);';
const WRITE = `#include <cstdio>\nstatic const bool kvf_wrote = std::fopen("${MARKER}", "w") != nullptr;`;

/** One payload per way out of a `//` comment or a string literal. */
export const PAYLOADS: Readonly<Record<string, string>> = {
  newline: `nl\n${TRAP}\n`,
  crlf: `crlf\r\n#error injected through CR LF\r\n`,
  cr: `cr\r${TRAP}\r`,
  lineSeparators: `ls\u2028#error injected through U+2028\u2029${TRAP}`,
  nul: `nul\u0000\n#error injected after a NUL`,
  blockComment: `bc */ ${TRAP} /* `,
  quote: `qu" ${TRAP} "`,
  fileMarker: `fm\n${WRITE}\n//`,
  trailingBackslash: 'ends in a backslash \\',
  trigraph: 'ends in a trigraph ??/',
  bidi: 'bidi \u202e#error reversed\u202c',
  long: `${'x'.repeat(10_000 - 2 - TRAP.length)}\n${TRAP}\n`,
};

/** Every payload but the long one, in one name; the last one decides how it ends. */
export function joined(last: 'trailingBackslash' | 'trigraph'): string {
  const rest = Object.entries(PAYLOADS).filter(([k]) => k !== last && k !== 'long').map(([, v]) => v);
  return [...rest, PAYLOADS[last]].join(' ');
}

// What would start a line if a payload escaped: every piece after a line terminator.
const TERMINATORS = /\r\n|[\n\r\u2028\u2029\u0000]/;
const FRAGMENTS = [...new Set(Object.values(PAYLOADS).flatMap((p) => p.split(TERMINATORS).slice(1).map((f) => f.trim()).filter((f) => f.length > 2)))];
// What must never appear as code: the payloads' code, anywhere outside a string literal. (Their
// words may: a kernel id keeps a name's letters and digits, as an identifier.)
const CODE = ['kvf_injected =', 'kvf_wrote =', '#error', '#include <cstdio>', '__builtin_trap(', 'fopen('];
const LITERAL = /"(?:[^"\\]|\\.)*"/g;

/**
 * Problems of `source` as a holder of hostile names (empty when it is inert): a character outside
 * printable ASCII; a line that ends in `\` or holds `??` (both splice or rewrite lines); a line
 * that a payload started; payload code outside a string literal.
 */
export function injectionProblems(source: string): string[] {
  const problems: string[] = [];
  const lines = source.split('\n');
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    const bad = /[^\x20-\x7e]/.exec(line);
    if (bad) problems.push(`${at}: character U+${bad[0].codePointAt(0)!.toString(16).padStart(4, '0')} outside printable ASCII`);
    if (line.endsWith('\\')) problems.push(`${at}: ends in a backslash (splices the next line)`);
    if (line.includes('??')) problems.push(`${at}: holds '??' (a trigraph in older modes)`);
    if (line.includes('*/')) problems.push(`${at}: holds the end of a block comment`);
    for (const f of FRAGMENTS) if (line.trimStart().startsWith(f)) problems.push(`${at}: starts with payload ${JSON.stringify(f.slice(0, 40))}`);
    const code = line.replace(LITERAL, '""');
    for (const c of CODE) if (code.includes(c)) problems.push(`${at}: payload code ${JSON.stringify(c)} outside a string literal`);
  });
  return problems;
}
