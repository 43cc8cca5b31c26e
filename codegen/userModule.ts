/**
 * Import a user's TypeScript or JavaScript module (a variants or schemes file): a missing file or
 * one that throws while loading is KVF4004 naming it, whatever it threw.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { KvforgeError } from '../dsl/diagnostics.ts';

export async function importUserModule(file: string, hint: string): Promise<Record<string, unknown>> {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new KvforgeError('KVF4004', `no such file: ${file}`);
  try {
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof KvforgeError) throw e;
    throw new KvforgeError('KVF4004', `could not load ${file}: ${e instanceof Error ? e.message : `it threw ${String(e)}`}`, { hint });
  }
}
