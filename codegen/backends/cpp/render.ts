/** Render one kernel unit to C++ source through the handlebars template. */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import type { KernelUnit } from '../../pipeline.ts';
import { cppView } from './view.ts';

// noEscape: C++ is not HTML (`<` must stay `<`); strict: a missing field is an error, not "".
const template = Handlebars.compile(
  readFileSync(new URL('./templates/kernel.cpp.hbs', import.meta.url), 'utf8'),
  { noEscape: true, strict: true },
);

export function renderCpp(u: KernelUnit, provenance: readonly string[]): string {
  return template(cppView(u, provenance));
}
