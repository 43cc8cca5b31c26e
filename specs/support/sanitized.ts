/**
 * The sanitized flavour (`npm run test:asan`, vitest.asan.config.ts): whether this run is it, and
 * the environment for the standalone C++ harnesses a spec starts. Those link their own sanitizer
 * runtime when built sanitized and none otherwise, so they must not inherit node's LD_PRELOAD of
 * libasan (the compilers that build them need it even less).
 */
export const sanitized = process.env.KVFORGE_SANITIZE === '1';

export function harnessEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.LD_PRELOAD;
  if (sanitized) env.KVF_SANITIZE = '1';
  return env;
}
