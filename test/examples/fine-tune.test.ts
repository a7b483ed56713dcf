/** examples/fine-tune: `--init` from a pretrained checkpoint against the same steps from scratch. */
import { describe, expect, it } from 'vitest';
import { outDir, runExample } from './run-example.js';

describe('examples/fine-tune', () => {
  it('evaluates the pretrained, fine-tuned and from-scratch checkpoints on held-out text', () => {
    const r = runExample('fine-tune/run.mjs', { STEPS: '3', FT_STEPS: '2', EXAMPLE_OUT: outDir('fine-tune') });
    expect(r.code, r.stderr).toBe(0);
    const loss = (label: string) => Number(/([\d.]+)$/.exec(r.stdout.split('\n').find((l) => l.startsWith(label)) ?? '')?.[1]);
    const pretrained = loss('pretrained on chapters 1–3');
    const tuned = loss('fine-tuned from it (--init)');
    const scratch = loss('trained from scratch');
    for (const l of [pretrained, tuned, scratch]) expect(l).toBeGreaterThan(0);
    // Seeded and deterministic: starting from the pretrained weights beats starting from noise.
    expect(tuned).toBeLessThan(scratch);
  });
});
