/**
 * Slots a cache under a policy holds after a context of C tokens (semantics.md section 3), per
 * (sequence, KV head): what the memory figures count. Computed from the rules on counts alone,
 * token by token as decode appends them (the pyramid's rule is the same for prefill):
 * - full: C; sliding: min(C, W); sinks: min(C, windowLength);
 * - pyramid: sinks + merged + recent slots after each token's compression, simulated;
 * - adaptive: data-dependent (the selection reads attention), so its bound C.
 */
import type { PolicyData } from '../../dsl/policy/policy.ts';

/** `p`: the policy as plain data (policyData); `budget`: a pyramid policy's W_k for this cache. */
export function policySlots(p: PolicyData | undefined, budget: number | undefined, context: number): number {
  if (!p) return context;
  const n = (k: string) => p[k] as number;
  switch (p.kind) {
    case 'full': case 'adaptive': return context;
    case 'sliding': return Math.min(context, n('window'));
    case 'sinks': return Math.min(context, n('windowLength'));
    case 'pyramid': {
      const compat = p.compatibility as { mergeLiteralDecode?: boolean } | undefined;
      if (budget === undefined) throw new RangeError('policySlots: a pyramid policy needs its budget');
      return pyramidSlots(n('sinks'), budget, n('groupSize'), compat?.mergeLiteralDecode === true, context);
    }
  }
}

/** Slot counts of the pyramid rules after `context` decode tokens (no data: sizes only). */
export function pyramidSlots(sinks: number, W: number, g: number, literal: boolean, context: number): number {
  let sink = 0, merged = 0, recent = 0;
  for (let t = 0; t < context; t++) {
    if (sink < sinks) {
      sink++;
      continue;
    }
    recent++;
    if (recent <= W) continue;
    if (literal) {
      // The whole cache in pairs, behind a raw copy of the sinks; all of it counts as merged.
      const len = sink + merged + recent;
      merged = Math.ceil(len / 2), recent = 0;
      continue;
    }
    while (recent > W) merged = Math.ceil((merged + W) / g), recent -= W;
  }
  return sink + merged + recent;
}
