/**
 * The C++ backend's view model: everything the template prints, precomputed here so that the
 * template holds no logic (design.md). Features become constexpr flags of the Variant struct that
 * the hand-written kernel templates in runtime/native/include/kvforge/cpu/ read.
 */
import { CPP_DIALECT } from '../cfamily/dialect.ts';
import { variantView, type VariantView } from '../cfamily/variant.ts';
import type { SafeText } from '../safeText.ts';
import type { KernelUnit } from '../../pipeline.ts';

export interface CppView extends VariantView {
  /** Comment lines; user text in them only as escaped literals (safeText.ts). */
  readonly provenance: readonly SafeText[];
}

export function cppView(u: KernelUnit, provenance: readonly SafeText[]): CppView {
  return { provenance, ...variantView(u, CPP_DIALECT) };
}
