/**
 * Render a kernel unit to source through its backend's handlebars template. The templates hold no
 * logic: each backend's view model precomputes every field they print.
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import type { KernelUnit } from '../pipeline.ts';
import { cppView } from './cpp/view.ts';
import { cudaView } from './cuda/view.ts';
import type { SafeText } from './safeText.ts';
import { internalError } from '../../dsl/diagnostics.ts';

// noEscape: C++ is not HTML (`<` must stay `<`); strict: a missing field is an error, not "".
function load(rel: string): HandlebarsTemplateDelegate {
  return Handlebars.compile(readFileSync(new URL(rel, import.meta.url), 'utf8'), { noEscape: true, strict: true });
}

const BACKENDS = {
  cpp: { template: load('./cpp/templates/kernel.cpp.hbs'), view: cppView },
  cuda: { template: load('./cuda/templates/kernel.cu.hbs'), view: cudaView },
} as const;

/** Source text of `u` for its plan's target; `provenance` from provenanceOf. */
export function renderKernel(u: KernelUnit, provenance: readonly SafeText[]): string {
  const b = BACKENDS[u.plan.target];
  return b.template(b.view(u, provenance));
}

/**
 * The Variant struct of `u`'s kernel source alone, from `struct Variant_<id> {` to its closing
 * `};`: what kvforge generates, without the kernel headers it plugs into (tests compile it alone).
 */
export function variantSource(u: KernelUnit): string {
  const b = BACKENDS[u.plan.target];
  const view = b.view(u, []);
  const src = b.template(view);
  const start = src.indexOf(`struct ${view.structName} {`);
  const end = start < 0 ? -1 : src.indexOf('\n};\n', start);
  if (end < 0) internalError(`kernel ${u.id}: no Variant struct in the rendered source`);
  return src.slice(start, end + 4);
}
