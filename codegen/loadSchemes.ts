/**
 * Load sharing schemes: every scheme() export of a TypeScript module (configs/*.ts or a user's
 * file), sorted by export name, or the scheme of an LCKV / Hugging Face config.json.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { importUserModule } from './userModule.ts';
import { readModelConfig } from '../dsl/scheme/hfConfig.ts';
import type { ModelShape } from '../dsl/scheme/modelShape.ts';
import { isSchemeSpec, type SchemeSpec } from '../dsl/scheme/scheme.ts';
import { declarationOf, schemeOfDeclaration } from './scheme/manifestScheme.ts';
import { canonicalJson } from './hash.ts';

export interface NamedScheme {
  readonly file: string;
  /** The export's name, or 'config' for a config.json. */
  readonly exportName: string;
  readonly scheme: SchemeSpec;
  /** The model shape, when the source is a config.json. */
  readonly model?: ModelShape;
}

/**
 * An export that has a scheme's form is taken only if it is one: rebuilt through scheme() (every
 * check of the DSL) and compared, so a hand-made or edited object (`{ ...s, window: -5 }`) is
 * KVF4004 naming the export, not a wrong plan or a crash further on.
 */
export function checkSchemeExport(file: string, exportName: string, s: SchemeSpec): SchemeSpec {
  let rebuilt: SchemeSpec;
  try {
    rebuilt = schemeOfDeclaration(declarationOf(s));
  } catch (e) {
    const why = e instanceof KvforgeError ? e.detail : 'its fields are not those scheme() returns';
    throw new KvforgeError('KVF4004', `${file}: export '${exportName}' looks like a scheme but is not one scheme() accepts: ${why}`, { hint: 'build it with scheme({ ... })' });
  }
  if (canonicalJson(declarationOf(rebuilt)) !== canonicalJson(declarationOf(s))) {
    throw new KvforgeError('KVF4004', `${file}: export '${exportName}' looks like a scheme but differs from what scheme() makes of its own fields`, { hint: 'build it with scheme({ ... }) and do not edit the result' });
  }
  return s;
}

/** Schemes of a module's exports (none is not an error here: a file may hold only variants). */
export function schemesOf(mod: Record<string, unknown>, file: string): NamedScheme[] {
  return Object.keys(mod).filter((k) => isSchemeSpec(mod[k])).sort().map((k) => ({ file, exportName: k, scheme: checkSchemeExport(file, k, mod[k] as SchemeSpec) }));
}

/** `orNone`: a module without scheme exports gives [] instead of KVF4004 (a variants file). */
export async function loadSchemes(file: string, o: { orNone?: boolean } = {}): Promise<NamedScheme[]> {
  // A model folder stands for its config.json.
  if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'config.json');
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new KvforgeError('KVF4004', `no such file: ${file}`);
  if (abs.endsWith('.json')) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(abs, 'utf8'));
    } catch (e) {
      throw new KvforgeError('KVF2010', `${file}: not valid JSON: ${(e as Error).message}`);
    }
    const { scheme, model } = readModelConfig(json, { source: file, name: path.basename(path.dirname(abs)) });
    return [{ file, exportName: 'config', scheme, model }];
  }
  const mod = await importUserModule(file, "a scheme file is a TypeScript or JavaScript module that imports from 'kvforge' and exports scheme(...) results");
  const found = schemesOf(mod, file);
  if (found.length === 0 && !o.orNone) throw new KvforgeError('KVF4004', `${file} exports no scheme`, { hint: 'export const myScheme = scheme({ ... })' });
  return found;
}
