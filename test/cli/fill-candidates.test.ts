/**
 * The ranking behind `sample --fill` (compiler/cli/fill.ts topCandidates): probabilities are a
 * softmax over the real vocabulary (padding columns excluded), candidates are ordinary ids only
 * (never [MASK]), most likely first, compared with a float64 softmax.
 */
import { describe, expect, it } from 'vitest';
import { topCandidates } from '../../compiler/cli/fill.js';

describe('topCandidates', () => {
  it('ranks ordinary ids by probability; specials and padding are never offered', () => {
    // ids 0..4 ordinary, 5 = [MASK] (the largest logit), 6..7 vocabulary padding (ignored).
    const logits = Float32Array.from([1, 3, -2, 2.5, 0, 9, 50, 50]);
    const got = topCandidates(logits, 6, 5, 3);
    const z = [1, 3, -2, 2.5, 0, 9];
    const sum = z.reduce((a, x) => a + Math.exp(x), 0);
    expect(got.map((c) => c.id)).toEqual([1, 3, 0]);
    for (const c of got) expect(Math.abs(c.p - Math.exp(z[c.id]!) / sum)).toBeLessThan(1e-12);
  });
  it('asks for at least one candidate and at most the ordinary ids', () => {
    const logits = Float32Array.from([0, 1, 2]);
    expect(topCandidates(logits, 3, 3, 0).map((c) => c.id)).toEqual([2]);
    expect(topCandidates(logits, 3, 2, 10).map((c) => c.id)).toEqual([1, 0]);
  });
});
