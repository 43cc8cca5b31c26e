/**
 * Number literals of C++ and CUDA that mean exactly the IR's number.
 *
 * An IR float constant is a JavaScript double; the kernel computes in float32, so its literal
 * must be that double rounded once to float, Math.fround(value), which is what the reference's
 * rounding contract assumes (runtime/tolerance.ts: the kernel's inputs and constants are
 * float32, the reference computes in float64 on the same values). The literal written is that
 * float itself, in a spelling C++ reads without any rounding (C++ leaves the choice between the
 * two nearest values to the implementation when a literal is not representable):
 *
 * - its exact decimal expansion when that is short (`0.5f`, `30.0f`, `-0.0625f`);
 * - else an exact hexadecimal floating literal (C++17, CUDA): `0x1.ad7f2ap-24f` is
 *   Math.fround(1e-7) to the last bit. (The printer adds the JavaScript value as a comment.)
 *
 * Double literals (`printDoubleLiteral`, for the printer's exact-integer mode) follow the same
 * rule without rounding: the double itself, exact.
 */

const TWO_52 = 2n ** 52n;

/** The exact hexadecimal floating literal of a finite double, without suffix: `0x1.8p-3`, `-0x0p+0`. */
export function hexFloat(v: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n ? '-' : '';
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & (TWO_52 - 1n);
  if (biased === 0x7ff) throw new RangeError(`hexFloat of a non-finite value ${v}`);
  if (biased === 0 && fraction === 0n) return `${sign}0x0p+0`;
  // Normal: 1.fraction * 2^(biased-1023); subnormal: 0.fraction * 2^-1022.
  const lead = biased === 0 ? '0' : '1';
  const exp = biased === 0 ? -1022 : biased - 1023;
  const digits = fraction.toString(16).padStart(13, '0').replace(/0+$/, '');
  return `${sign}0x${lead}${digits ? `.${digits}` : ''}p${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
}

/** Mantissa and exponent of a finite nonzero double: |v| = m * 2^e with m odd. */
function decompose(v: number): { m: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(v));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  let m = bits & (TWO_52 - 1n);
  let e = biased === 0 ? -1074 : biased - 1075;
  if (biased !== 0) m |= TWO_52;
  while ((m & 1n) === 0n) { m >>= 1n; e += 1; }
  return { m, e };
}

/** The exact decimal expansion of `v` when it has at most `max` digits (`30.0`, `-0.0625`). */
function exactDecimal(v: number, max = 12): string | undefined {
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const { m, e } = decompose(v);
  const sign = v < 0 ? '-' : '';
  if (e >= 0) {
    const digits = (m << BigInt(e)).toString();
    return digits.length <= max ? `${sign}${digits}.0` : undefined;
  }
  // m / 2^-e = m * 5^-e / 10^-e: exactly -e digits after the point.
  const digits = (m * 5n ** BigInt(-e)).toString().padStart(-e + 1, '0');
  if (digits.replace(/^0+/, '').length > max) return undefined;
  return `${sign}${digits.slice(0, digits.length + e)}.${digits.slice(digits.length + e)}`;
}

/** A float32 literal for the double `v`: Math.fround(v), exactly. */
export function printFloatLiteral(v: number): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) return 'NAN';
  if (!Number.isFinite(f)) return f > 0 ? 'INFINITY' : '-INFINITY';
  return `${exactDecimal(f) ?? hexFloat(f)}f`;
}

/** A double literal for the double `v`, exact. */
export function printDoubleLiteral(v: number): string {
  if (Number.isNaN(v)) return 'static_cast<double>(NAN)';
  if (!Number.isFinite(v)) return v > 0 ? 'static_cast<double>(INFINITY)' : '-static_cast<double>(INFINITY)';
  return exactDecimal(v, 17) ?? hexFloat(v);
}

/**
 * An int64 literal of the safe integer `v`. Literals within int32 print bare (C type `int`,
 * readable); larger ones get `LL` (C's long long, at least 64 bits). The printer keeps `int`
 * operands from meeting each other in + - * (printer.ts, `narrow`), where C would compute in int.
 */
export function printIntLiteral(v: number): string {
  // An int constant -0 is 0 to int64 arithmetic (toFloat prints it in double mode to keep the sign).
  const n = Object.is(v, -0) ? 0 : v;
  return n >= -2147483647 && n <= 2147483647 ? String(n) : `${n}LL`;
}
