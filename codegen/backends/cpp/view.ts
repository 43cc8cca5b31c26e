/**
 * The C++ backend's view model: everything the template prints, precomputed here so that the
 * template holds no logic (design.md). Features become constexpr flags of the Variant struct that
 * the hand-written kernel templates in runtime/native/include/kvforge/cpu/ read.
 */
import { printExpr } from '../cfamily/printer.ts';
import { CPP_DIALECT } from '../cfamily/dialect.ts';
import type { KernelUnit } from '../../pipeline.ts';

export interface CppView {
  readonly provenance: readonly string[];
  readonly structName: string;
  readonly id: string;
  readonly tileQ: number;
  readonly tileK: number;
  readonly hasMask: boolean;
  readonly hasScore: boolean;
  readonly fields: ReadonlyArray<{ ctype: string; name: string; origin: string }>;
  readonly ctorInit: string;
  readonly maskExpr: string;
  readonly scoreExpr: string;
}

export function cppView(u: KernelUnit, provenance: readonly string[]): CppView {
  const d = CPP_DIALECT;
  const fields = u.runtimeParams.map((p, i) => ({
    ctype: p.type === 'int' ? d.intType : d.floatType,
    name: d.param(p.name),
    origin: `params[${i}]: ${p.origin} (${p.type})`,
  }));
  const ctorInit = fields.length
    ? ` : ${fields.map((f, i) => `${f.name}(static_cast<${f.ctype}>(params[${i}]))`).join(', ')}`
    : '';
  return {
    provenance,
    structName: `Variant_${u.id}`,
    id: u.id,
    tileQ: u.plan.tileQ,
    tileK: u.plan.tileK,
    hasMask: u.mask !== undefined,
    hasScore: u.score !== undefined,
    fields,
    ctorInit,
    maskExpr: u.mask ? printExpr(u.mask, d) : 'true',
    scoreExpr: u.score ? printExpr(u.score, d) : 's',
  };
}
