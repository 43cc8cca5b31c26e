/** createCache(kernel, options): the KV cache a kernel (and its compile() siblings) reads in place. */
import type { CompiledAttention } from '../api/kernels.ts';
import type { CacheOptions, KvCache } from './kvCache.ts';

export function createCache(kernel: CompiledAttention, opts: CacheOptions): KvCache {
  return kernel.createCache(opts);
}
