/** createCache(kernel, options): the KV cache a kernel (and its compile() siblings) reads in place. */
import type { CompiledAttention } from '../api/kernels.ts';
import type { CachePolicySpec } from '../../dsl/policy/policy.ts';
import type { CacheOptions, KvCache } from './kvCache.ts';
import { PolicyCache, slotStatsFor, type PolicyCacheOptions } from './policyCache.ts';

export function createCache(kernel: CompiledAttention, opts: CacheOptions): KvCache {
  return kernel.createCache(opts);
}

/**
 * A KV cache under a compression policy (runtime/cache/policyCache.ts), with the slot statistics
 * the policy needs, read in place by `kernel` and its compile() siblings.
 * @example
 * ```ts
 * const pc = createPolicyCache(attn, pyramidCache({ L0: 512, beta: 2 }), { batch: 1, layer: 3, layers: 22 });
 * pc.append(0, chunk); await attn.prefill(pc.cache, x); pc.compress('prefill');
 * ```
 */
export function createPolicyCache(kernel: CompiledAttention, policy: CachePolicySpec, opts: CacheOptions & PolicyCacheOptions): PolicyCache {
  const { layer, layers, ...cacheOpts } = opts;
  const cache = kernel.createCache({ ...cacheOpts, slotStats: slotStatsFor(policy) });
  try {
    return new PolicyCache(cache, policy, { layer, layers });
  } catch (e) {
    cache.dispose();
    throw e;
  }
}
