/**
 * The parts of a kernel's Variant struct that every C-family backend prints the same way: the
 * parameter fields and their initialisers, the mask and score expressions, and the tile
 * classifier printed from the mask's interval rules (intervalPrinter.ts).
 */
import { freeVariables } from '../../ir/expr.ts';
import type { KernelUnit } from '../../pipeline.ts';
import { printExpr } from './printer.ts';
import { printClassifyBody } from './intervalPrinter.ts';
import type { Dialect } from './dialect.ts';
import { generatorText, quoteUserText, type SafeText } from '../safeText.ts';

export interface VariantView {
  readonly structName: string;
  readonly id: string;
  readonly tileQ: number;
  readonly tileK: number;
  readonly hasMask: boolean;
  readonly hasScore: boolean;
  /** Run-time parameters the kernel reads (the native side checks the params array's length). */
  readonly numParams: number;
  /** `origin` is a comment: the declaring function's name (user text) only as an escaped literal. */
  readonly fields: ReadonlyArray<{ ctype: string; name: string; origin: SafeText }>;
  /** ` : p_a(static_cast<...>(params[0])), ...` or '' */
  readonly ctorInit: string;
  readonly maskExpr: string;
  readonly scoreExpr: string;
  /** The mask reads b / h (a tile's class then depends on them). */
  readonly readsB: boolean;
  readonly readsH: boolean;
  /** Statements of `classify(b, h, q, k)`, one per line, indented for the struct. */
  readonly classifyBody: readonly string[];
}

export function variantView(u: KernelUnit, d: Dialect): VariantView {
  const fields = u.runtimeParams.map((p, i) => ({
    ctype: p.type === 'int' ? d.intType : d.floatType,
    name: d.param(p.name),
    origin: generatorText(`params[${i}]: ${quoteUserText(p.origin)} (${p.type})`),
  }));
  const ctorInit = fields.length
    ? ` : ${fields.map((f, i) => `${f.name}(static_cast<${f.ctype}>(params[${i}]))`).join(', ')}`
    : '';
  const reads = u.mask ? freeVariables(u.mask).indices : new Set<string>();
  // Run-time int parameters are the Variant's fields; baked ones are literals in the mask already.
  const intFields = new Set(u.runtimeParams.filter((p) => p.type === 'int').map((p) => p.name));
  return {
    structName: `Variant_${u.id}`,
    id: u.id,
    tileQ: u.plan.tileQ,
    tileK: u.plan.tileK,
    hasMask: u.mask !== undefined,
    hasScore: u.score !== undefined,
    numParams: u.runtimeParams.length,
    fields,
    ctorInit,
    maskExpr: u.mask ? printExpr(u.mask, d) : 'true',
    scoreExpr: u.score ? printExpr(u.score, d) : 's',
    readsB: reads.has('b'),
    readsH: reads.has('h'),
    classifyBody: printClassifyBody(u.mask, { param: (name) => (intFields.has(name) ? d.param(name) : undefined) }),
  };
}
