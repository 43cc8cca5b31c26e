/**
 * An independent reader of the C floating literals the printer writes (decimal or hexadecimal,
 * with or without the `f` suffix), by exact rational arithmetic on BigInt and IEEE 754
 * round-half-to-even: what a conforming C++17 compiler computes for the literal. It shares no
 * code with codegen/backends/cfamily/literals.ts, so a printer bug cannot hide in both.
 */

interface Format { readonly mant: number; readonly minExp: number; readonly maxExp: number }
const BINARY64: Format = { mant: 53, minExp: -1074, maxExp: 1024 };
const BINARY32: Format = { mant: 24, minExp: -149, maxExp: 128 };

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** num / den (num >= 0, den > 0) rounded to the format; returns the value as a JS number. */
function roundRational(num: bigint, den: bigint, f: Format): number {
  if (num === 0n) return 0;
  // Choose e so that num / den / 2^e has f.mant bits before the point (or e = minExp for subnormals).
  let e = bitLength(num) - bitLength(den) - f.mant;
  const scaled = (exp: number): [bigint, bigint] => (exp >= 0 ? [num, den << BigInt(exp)] : [num << BigInt(-exp), den]);
  let [n, d] = scaled(e);
  if (n / d >= 1n << BigInt(f.mant)) { e += 1; [n, d] = scaled(e); }
  if (n / d < 1n << BigInt(f.mant - 1)) { e -= 1; [n, d] = scaled(e); }
  if (e < f.minExp) { e = f.minExp; [n, d] = scaled(e); }
  let m = n / d;
  const rem = n - m * d;
  if (2n * rem > d || (2n * rem === d && (m & 1n) === 1n)) m += 1n;
  if (bitLength(m) + e > f.maxExp) return Infinity;
  return Number(m) * 2 ** e; // exact: m has at most mant+1 bits, e >= -1074, 2^e is a double
}

/** The value a C compiler gives the literal `text` (`0x1.8p-3f`, `-2.5`, `1e+21f`, `-0.0f`). */
export function parseCFloatLiteral(text: string): { value: number; isFloat: boolean } {
  const m = /^(-?)(?:0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)|(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?)([fF]?)$/.exec(text);
  if (!m) throw new Error(`not a C floating literal: ${text}`);
  const [, sign, hInt, hFrac, hExp, dInt, dFrac, dExp, suffix] = m;
  const isFloat = suffix !== '';
  let num: bigint;
  let den = 1n;
  if (hExp !== undefined) {
    const digits = `${hInt ?? ''}${hFrac ?? ''}` || '0';
    num = BigInt(`0x${digits}`);
    const exp = Number(hExp) - 4 * (hFrac ?? '').length;
    if (exp >= 0) num <<= BigInt(exp); else den <<= BigInt(-exp);
  } else {
    const digits = `${dInt ?? ''}${dFrac ?? ''}` || '0';
    num = BigInt(digits);
    const exp = Number(dExp ?? 0) - (dFrac ?? '').length;
    if (exp >= 0) num *= 10n ** BigInt(exp); else den = 10n ** BigInt(-exp);
  }
  const magnitude = roundRational(num, den, isFloat ? BINARY32 : BINARY64);
  return { value: sign ? -magnitude : magnitude, isFloat };
}

/** Bits of a double, and of a float, as hex strings (what the compiled check prints). */
export function float64Bits(v: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  return view.getBigUint64(0).toString(16).padStart(16, '0');
}
export function float32Bits(v: number): string {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, v);
  return view.getUint32(0).toString(16).padStart(8, '0');
}
