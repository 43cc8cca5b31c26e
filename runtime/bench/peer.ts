/**
 * Loading the benchmark's peer, onnxruntime-node's GroupQueryAttention (ort-gqa.ts), only when a
 * benchmark runs. Its packages are devDependencies of kvforge: a user's `npm install kvforge`
 * (or `npm install --omit=dev` in a clone) does not have them, and `gen`, `fuzz` and `explain`,
 * which import this module's importers, must still run there; so nothing imports ort-gqa.ts
 * statically outside the benchmark's own tests.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { PACKAGE_ROOT } from '../build/paths.ts';
import { ownManifest } from '../build/packageRoot.ts';

export type OrtPeer = typeof import('./ort-gqa.ts');

/** The packages ort-gqa.ts imports. */
const PEER_PACKAGES = ['onnxruntime-node', 'onnx-proto'] as const;

/** The peer package a failed import could not find, if that is why it failed. */
function missingPeer(e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown };
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' && err?.code !== 'MODULE_NOT_FOUND') return undefined;
  const named = /Cannot find (?:package|module) '([^']+)'/.exec(String(err.message))?.[1];
  return PEER_PACKAGES.find((p) => named === p || named?.startsWith(`${p}/`));
}

/** ort-gqa.ts, or KVF4009 naming the missing package and the install command with kvforge's versions. */
export async function loadOrtPeer(): Promise<OrtPeer> {
  try {
    return await import('./ort-gqa.ts');
  } catch (e) {
    const missing = missingPeer(e);
    if (missing === undefined) throw e;
    const dev = ownManifest(PACKAGE_ROOT).devDependencies;
    const specs = PEER_PACKAGES.map((p) => (dev[p] ? `${p}@${dev[p]}` : p)).join(' ');
    throw new KvforgeError('KVF4009', `kvforge bench times onnxruntime-node's GroupQueryAttention as its peer, which needs ${PEER_PACKAGES.join(' and ')}; '${missing}' is not installed`, {
      hint: `install the peer next to kvforge: npm install --save-dev ${specs} (ONNXRUNTIME_NODE_INSTALL=skip skips its optional CUDA download)`,
    });
  }
}
