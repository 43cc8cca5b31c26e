/**
 * One catalogue of every user-facing error kvforge raises, each with a stable code.
 *
 * Codes never change meaning once published; tests assert them. `KVF1xxx` front end (mask and
 * score bodies), `KVF2xxx` declarations (DSL), `KVF3xxx` call-time inputs (shapes, dtypes,
 * values), `KVF4xxx` build and runtime environment. `KVF9xxx` internal errors: a bug in kvforge.
 *
 * A leaf module: it imports nothing of kvforge, so every layer (dsl, codegen, runtime) may use it
 * (specs/layering.test.ts).
 */
export const DIAGNOSTICS = {
  // front end: what a mask or score body may contain
  KVF1001: 'unsupported syntax',
  KVF1002: 'call to a function that is not allowed',
  KVF1003: 'unknown identifier',
  KVF1004: 'unknown parameter',
  KVF1005: 'captured variable',
  KVF1006: 'type error',
  KVF1007: 'float division of integers',
  KVF1008: 'divisor must be a constant or a parameter',
  KVF1009: 'bad function signature',
  KVF1010: 'source not readable',
  KVF1011: 'unsupported literal',
  KVF1012: 'expression nested too deeply',
  KVF1013: 'expression too large',
  // declarations
  KVF2001: 'bad parameter declaration',
  KVF2002: 'bad parameter value',
  KVF2003: 'head counts: Hq must be a positive multiple of Hkv',
  KVF2004: 'bad head dimension',
  KVF2005: 'bad attention declaration',
  KVF2006: 'parameter not bound',
  KVF2007: 'bad name',
  KVF2008: 'bad layer_types string',
  KVF2009: 'bad scheme declaration',
  KVF2010: 'bad model config',
  KVF2011: 'scheme not run by the executor yet',
  KVF2012: 'bad cache policy',
  // call-time inputs
  KVF3001: 'wrong dtype',
  KVF3002: 'wrong length',
  KVF3003: 'shape does not match the variant',
  KVF3004: 'bad shape',
  KVF3005: 'too large to allocate',
  KVF3006: 'bad positions',
  KVF3007: 'integer arithmetic outside the exact range (+-2^53)',
  KVF3009: 'detached input',
  KVF3010: 'bad KV cache operation',
  KVF3011: 'cache and kernel do not match',
  KVF3012: 'released cache or buffer',
  // build and environment
  KVF4001: 'build failed',
  KVF4002: 'kernel not found in the addon',
  KVF4003: 'addon not built',
  KVF4004: 'cannot load user file',
  KVF4005: 'build cache folder not usable',
  KVF4006: 'a generated kernel failed to compile',
  KVF4009: 'benchmark peer not installed',
  KVF4013: 'kvforge is not built',
  KVF4010: 'output folder not created by kvforge gen',
  KVF4011: 'unsafe path in the output folder',
  KVF4012: 'generated kernel manifest not usable',
  KVF4014: 'checkpoint not usable',
  // internal
  KVF9001: 'internal error (a bug in kvforge; please report it)',
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTICS;

/** Where in the user's source an error points (1-based line and column). */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The full text of the offending line, for the caret display. */
  readonly sourceLine?: string;
  /** Length of the offending span on that line (at least 1). */
  readonly length?: number;
}

/** The one error type kvforge throws for anything a user can fix. */
export class KvforgeError extends Error {
  readonly code: DiagnosticCode;
  readonly detail: string;
  readonly location: SourceLocation | undefined;
  readonly hint: string | undefined;

  constructor(code: DiagnosticCode, detail: string, opts: { location?: SourceLocation; hint?: string } = {}) {
    super(formatDiagnostic(code, detail, opts.location, opts.hint));
    this.name = 'KvforgeError';
    this.code = code;
    this.detail = detail;
    this.location = opts.location;
    this.hint = opts.hint;
    // A user error is about the user's code: kvforge's own frames would only bury it (Halide's
    // user/internal split). Internal errors keep their stack for the bug report.
    if (!code.startsWith('KVF9')) this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * `file:line:col: error KVF1001: unsupported syntax: for loops are not allowed`, then the source
 * line with a caret under the span, then `hint: ...`.
 */
export function formatDiagnostic(code: DiagnosticCode, detail: string, loc?: SourceLocation, hint?: string): string {
  const head = `${loc ? `${loc.file}:${loc.line}:${loc.column}: ` : ''}error ${code}: ${DIAGNOSTICS[code]}: ${detail}`;
  const lines = [head];
  if (loc?.sourceLine !== undefined) {
    lines.push(`  ${loc.sourceLine}`);
    // Keep the line's own tabs in the padding so the caret lines up however tabs are shown.
    const pad = loc.sourceLine.slice(0, Math.max(0, loc.column - 1)).replace(/[^\t]/g, ' ');
    lines.push(`  ${pad}${'^'.repeat(Math.max(1, loc.length ?? 1))}`);
  }
  if (hint) lines.push(`  hint: ${hint}`);
  return lines.join('\n');
}

/** Raise an internal error: something kvforge itself got wrong, never the user's input. */
export function internalError(detail: string): never {
  throw new KvforgeError('KVF9001', detail);
}
