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
