/**
 * lowerSpec: an AttentionSpec (functions + bound values) -> one mask Expr, one score Expr and the
 * list of parameter slots the kernel reads, in order.
 *
 * Each function is translated once by the front end; the parameters of the i-th mask leaf become
 * `m<i>_<name>` and those of the score `s_<name>`, so functions combined into one kernel never
 * collide. Slot order is the order of the kernel's `params` array.
 */
import type { AttentionSpec } from '../dsl/attention.ts';
import { checkMaskNesting, type Mask } from '../dsl/mask.ts';
import { irDepth, logicChain, MAX_IR_DEPTH } from './ir/depth.ts';
import { E, type Expr } from './ir/expr.ts';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { translate } from './frontend/index.ts';
import { checkDivisors } from './passes/checkDivisors.ts';
import { renameParams } from './passes/renameParams.ts';
import type { ParamSlot } from './unit.ts';
import type { FunctionDef } from '../dsl/types.ts';

export interface LoweredSpec {
  readonly mask: Expr | undefined;
  readonly score: Expr | undefined;
  /** Every parameter with the value the spec binds. */
  readonly params: ReadonlyArray<Required<ParamSlot>>;
}

// Translating is the expensive step (ts-morph); a definition object always translates the same.
const translated = new WeakMap<FunctionDef, Expr>();
function translateOnce(def: FunctionDef): Expr {
  let e = translated.get(def);
  if (!e) {
    e = translate(def);
    translated.set(def, e);
  }
  return e;
}

export function lowerSpec(spec: AttentionSpec): LoweredSpec {
  const params: Array<Required<ParamSlot>> = [];
  let leaf = 0;
  const bind = (def: FunctionDef, values: Readonly<Record<string, number>>, prefix: string): Expr => {
    const e = renameParams(translateOnce(def), (n) => `${prefix}${n}`);
    for (const [name, type] of Object.entries(def.params)) {
      params.push({ name: `${prefix}${name}`, type: type === 'int32' ? 'int' : 'float', value: values[name]!, origin: `${def.name}.${name}` });
    }
    return e;
  };
  // Recursion over the combinators is safe once their nesting is checked (dsl/mask.ts); a flat
  // and(m1, ..., m10000) becomes a balanced tree (logicChain), 15 levels deep.
  const lowerMask = (m: Mask): Expr => {
    if ('def' in m) return bind(m.def, m.values, `m${leaf++}_`);
    if (m.op === 'not') return E.unary('not', lowerMask(m.term));
    return logicChain(m.op, m.terms.map(lowerMask));
  };
  if (spec.mask) checkMaskNesting(spec.mask);
  const mask = spec.mask ? checkDepth(lowerMask(spec.mask), spec.name) : undefined;
  const score = spec.score ? bind(spec.score.def, spec.score.values, 's_') : undefined;
  const lowered = { mask, score, params };
  checkDivisors(lowered, Object.fromEntries(params.map((p) => [p.name, p.value])));
  return lowered;
}

/** The combined mask, if every pass may recurse over it (ir/depth.ts). */
function checkDepth(mask: Expr, name: string): Expr {
  const depth = irDepth(mask);
  if (depth > MAX_IR_DEPTH) {
    throw new KvforgeError('KVF1012', `the mask of '${name}' nests ${depth} levels deep once its functions are combined (the limit is ${MAX_IR_DEPTH})`, {
      hint: 'nest fewer combinators, or pass many masks to one and(...) / or(...)',
    });
  }
  return mask;
}
