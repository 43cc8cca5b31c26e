/**
 * The Expr interpreter: evaluates a node exactly as expr.ts defines it, in float64 with
 * JavaScript's own operators, so that it equals the user's original function bit for bit.
 */
import type { BinaryFn, Expr, UnaryFn } from './expr.ts';
import { internalError } from '../../dsl/diagnostics.ts';

export interface Env {
  readonly b: number;
  readonly h: number;
  readonly q: number;
  readonly k: number;
  /** The scaled score; required when the expression reads it. */
  readonly s?: number;
  readonly params: Readonly<Record<string, number>>;
}

export type Value = number | boolean;

const UNARY: Record<UnaryFn, (x: Value) => Value> = {
  neg: (x) => -(x as number),
  not: (x) => !x,
  abs: (x) => Math.abs(x as number),
  floor: (x) => Math.floor(x as number),
  toFloat: (x) => x as number,
  tanh: (x) => Math.tanh(x as number),
  exp: (x) => Math.exp(x as number),
  log: (x) => Math.log(x as number),
  sqrt: (x) => Math.sqrt(x as number),
};

type N = number;
const BINARY: Record<BinaryFn, (a: Value, b: Value) => Value> = {
  add: (a, b) => (a as N) + (b as N),
  sub: (a, b) => (a as N) - (b as N),
  mul: (a, b) => (a as N) * (b as N),
  div: (a, b) => (a as N) / (b as N),
  floorDiv: (a, b) => Math.floor((a as N) / (b as N)),
  mod: (a, b) => (a as N) % (b as N),
  min: (a, b) => Math.min(a as N, b as N),
  max: (a, b) => Math.max(a as N, b as N),
  lt: (a, b) => (a as N) < (b as N),
  le: (a, b) => (a as N) <= (b as N),
  gt: (a, b) => (a as N) > (b as N),
  ge: (a, b) => (a as N) >= (b as N),
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  and: (a, b) => (a as boolean) && (b as boolean),
  or: (a, b) => (a as boolean) || (b as boolean),
};

/**
 * Evaluate `e` in `env` with JavaScript's operators, so the result equals the user's function
 * exactly, including an int-typed -0 that JS produces for `0 * -1` (kernels compute ints in
 * int64, which has no -0, but print an int that may be -0 in double where it becomes a float, so
 * they agree with this: printer.ts, toFloat).
 */
export function interpret(e: Expr, env: Env): Value {
  switch (e.op) {
    case 'const': return e.value;
    case 'index': return env[e.name];
    case 'param': {
      const v = env.params[e.name];
      if (v === undefined) internalError(`parameter '${e.name}' has no value in the environment`);
      return v;
    }
    case 'score':
      if (env.s === undefined) internalError('score read outside a score function');
      return env.s;
    case 'unary': return UNARY[e.fn](interpret(e.arg, env));
    case 'binary': return BINARY[e.fn](interpret(e.lhs, env), interpret(e.rhs, env));
    case 'select': return interpret(e.cond, env) ? interpret(e.then, env) : interpret(e.else, env);
  }
}
