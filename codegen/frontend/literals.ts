/**
 * The value of a numeric literal token, exactly as JavaScript computes it.
 *
 * Root cause of issue 6 defect 1: ts-morph's `NumericLiteral.getLiteralValue()` returns
 * `parseInt(text, 10)` whenever TypeScript's normalised text has no `.`, and TypeScript writes
 * `1e-7` as `1e-7`, `0.0000005` as `5e-7` and `1e21` as `1e+21`: parseInt stops at the `e`
 * and gives 1, 5, 1. Here the token's own source text is read instead, by the grammar of
 * ECMA-262 NumericLiteral (12.9.3), so every spelling of a number means what the engine
 * computes for it.
 *
 * Accepted: decimal with optional fraction and exponent (`5`, `5.`, `.5`, `1e-7`, `1E+21`),
 * `0x` / `0o` / `0b` integers, numeric separators `_` between digits. Rejected (they never
 * reach a mask in strict code, and mean something else in sloppy code): legacy octal `017`
 * (15 in sloppy JavaScript, a syntax error in modules) and `08`-style leading zeros. BigInt
 * literals (`1n`) are a different syntax kind, rejected by unsupported.ts.
 */

/** Why a literal token cannot be read, for the front end's KVF1011 message. */
export interface LiteralProblem {
  readonly problem: string;
  readonly hint: string;
}

const DECIMAL = /^(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const RADIX = /^0(?:[xX][\da-fA-F](?:_?[\da-fA-F])*|[oO][0-7](?:_?[0-7])*|[bB][01](?:_?[01])*)$/;

/**
 * The number JavaScript gives the literal token `text` (the source spelling, not TypeScript's
 * normalised text), or what is wrong with it.
 */
export function numericLiteralValue(text: string): number | LiteralProblem {
  if (RADIX.test(text)) {
    // BigInt parses every radix exactly; Number() of it rounds once to nearest-even, which is
    // the value the engine gives an integer literal above 2^53 (ECMA-262 6.1.6.1.20 rounding).
    return Number(BigInt(text.replace(/_/g, '')));
  }
  if (/^0\d/.test(text) && !/^0[.eE]/.test(text)) {
    const octal = /^0[0-7]+$/.test(text);
    return {
      problem: octal
        ? `legacy octal literal \`${text}\` (it means ${parseInt(text, 8)} in sloppy JavaScript and is a syntax error in modules)`
        : `decimal literal \`${text}\` with a leading zero (a syntax error in modules)`,
      hint: octal ? `write 0o${text.slice(1)} for octal, or ${text.replace(/^0+/, '') || '0'} for decimal` : `write ${text.replace(/^0+(?=\d)/, '')}`,
    };
  }
  if (DECIMAL.test(text)) {
    // A decimal literal's value is the decimal number rounded once to the nearest double; Number()
    // of the same digits (separators removed) is specified to round identically (7.1.4.1.1).
    return Number(text.replace(/_/g, ''));
  }
  return { problem: `numeric literal \`${text}\` is not one JavaScript reads`, hint: 'write a plain decimal, 0x, 0o or 0b literal' };
}
