/**
 * Typed reads of JSON fields for the readers of generated data (manifest.ts, scheme/manifestScheme.ts):
 * each failure names the field's path (`kernels.causal_5be759ce41.plan.tileQ`).
 */

export class FieldReader {
  constructor(readonly fail: (at: string, detail: string) => never) {}

  object(x: unknown, at: string): Record<string, unknown> {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) this.fail(at, `must be an object, got ${describe(x)}`);
    return x as Record<string, unknown>;
  }
  list(x: unknown, at: string): unknown[] {
    if (!Array.isArray(x)) this.fail(at, `must be a list, got ${describe(x)}`);
    return x as unknown[];
  }
  string(x: unknown, at: string, form?: RegExp): string {
    if (typeof x !== 'string' || (form && !form.test(x))) this.fail(at, `must be ${form ? `a string of the form ${form}` : 'a string'}, got ${describe(x)}`);
    return x as string;
  }
  number(x: unknown, at: string): number {
    if (typeof x !== 'number' || !Number.isFinite(x)) this.fail(at, `must be a finite number, got ${describe(x)}`);
    return x as number;
  }
  int(x: unknown, at: string, min: number, max: number): number {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) this.fail(at, `must be an integer in ${min}..${max}, got ${describe(x)}`);
    return x as number;
  }
  boolean(x: unknown, at: string): boolean {
    if (typeof x !== 'boolean') this.fail(at, `must be true or false, got ${describe(x)}`);
    return x as boolean;
  }
  oneOf<T extends string>(x: unknown, at: string, values: readonly T[]): T {
    if (!values.includes(x as T)) this.fail(at, `must be one of ${values.map((v) => `'${v}'`).join(', ')}, got ${describe(x)}`);
    return x as T;
  }
}


/** A value as a message shows it. */
export function describe(x: unknown): string {
  if (x === undefined) return 'missing';
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x)}`;
  if (Array.isArray(x)) return 'a list';
  if (x === null) return 'null';
  return typeof x === 'object' ? 'an object' : `${typeof x} ${Object.is(x, -0) ? '-0' : String(x)}`;
}
