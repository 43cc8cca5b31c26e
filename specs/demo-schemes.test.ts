/**
 * The main job's scheme step (`npm start`, runtime/cli/demo.ts): the shipped 22-layer schemes with
 * bf16 caches pass the executor-against-reference campaign the demo runs. (Regression: with the
 * native float32 dense layers their logits differ from the float64 reference by up to 5e-3, more
 * than the 4-layer tolerance, and the demo reported them as failures: schemeTolerance.)
 */
import { describe, expect, it } from 'vitest';
import * as schemes from '../configs/schemes.ts';
import { runSchemeCampaigns } from '../runtime/cli/campaigns.ts';
import { schemeTolerance, SCHEME_TOLERANCE } from '../runtime/verify/schemeFuzz.ts';

describe("the demo's scheme campaigns", () => {
  it('lckvW2 and standardScheme (22 layers, bf16 caches) agree with the reference as npm start checks them', async () => {
    const lines: string[] = [];
    const r = await runSchemeCampaigns([{ exportName: 'lckvW2', scheme: schemes.lckvW2 }, { exportName: 'standardScheme', scheme: schemes.standardScheme }], { runs: 4, seed: 42 }, (l) => lines.push(l));
    expect(r.failed, lines.join('\n')).toBe(0);
    expect(r.notRun).toBe(0);
    expect(lines.filter((l) => l.startsWith('ok   '))).toHaveLength(2);
  }, 600_000);

  it('the tolerance grows with depth for 16-bit caches only', () => {
    expect(schemeTolerance('f32', 22)).toBe(SCHEME_TOLERANCE.f32);
    expect(schemeTolerance('bf16', 4)).toBe(SCHEME_TOLERANCE.bf16);
    expect(schemeTolerance('bf16', 2)).toBe(SCHEME_TOLERANCE.bf16);
    expect(schemeTolerance('bf16', 22)).toBeCloseTo(SCHEME_TOLERANCE.bf16 * 5.5, 12);
  });
});
