/**
 * softmax_xent's correct_rows output (a masked LM's accuracy, taken on the GPU): 1 exactly
 * where the row counts and its target's logit is the row maximum, against a float64 argmax.
 * Targets are set to the argmax on some rows (correct), elsewhere random (mostly wrong), −1
 * (ignored) or past the real vocabulary (ignored); one case pads the vocabulary (classes < V)
 * with a huge padding logit that must not count as the maximum.
 */
import { describe, expect, it } from 'vitest';
import { generateSoftmaxXent, type SoftmaxXentSpec } from '../../compiler/codegen/wgsl/kernels/softmax-xent.js';
import { random, randomInts, useGpu } from './gpu-harness.js';

const gpu = useGpu();

async function check(s: SoftmaxXentSpec & { classes?: number }, seed: number): Promise<void> {
  const { rows, V } = s;
  const K = s.classes ?? V;
  const z = random(rows * V, seed, -4, 4);
  // Padding columns hold a logit above every class: it must not be the row's maximum.
  for (let r = 0; r < rows; r++) for (let c = K; c < V; c++) z[r * V + c] = 100;
  const argmax = (r: number) => {
    let best = 0;
    for (let c = 1; c < K; c++) if (z[r * V + c]! > z[r * V + best]!) best = c;
    return best;
  };
  const y = randomInts(rows, seed + 1, 0, K - 1);
  for (let r = 0; r < rows; r += 3) y[r] = argmax(r);
  y[1] = -1;
  if (K < V) y[2] = K; // a padding column: not a class, ignored
  const want = Array.from(y, (t, r) => (t >= 0 && t < K && t === argmax(r) ? 1 : 0));
  const run = gpu().clear('loss_rows', 'loss', 'xent_sync', 'correct_rows').set('logits', z).set('targets', y);
  await run.run([generateSoftmaxXent({ ...s, correct: true })]);
  const got = Array.from((await run.read('correct_rows')).subarray(0, rows));
  expect(got).toEqual(want);
  // Both kinds of rows occur, so the comparison can fail either way.
  expect(want.filter((v) => v === 1).length).toBeGreaterThan(2);
  expect(want.filter((v) => v === 0).length).toBeGreaterThan(2);
}

describe('softmax_xent correct_rows', () => {
  it('V = 256 (vec4), 24 rows', async () => {
    await check({ rows: 24, V: 256 }, 11);
  });
  it('odd V = 67 (scalar path), 15 rows, cpu tuning', async () => {
    await check({ rows: 15, V: 67, tuning: 'cpu' }, 12);
  });
  it('padded vocabulary: classes 257 of V = 320; the padding never wins', async () => {
    await check({ rows: 18, V: 320, classes: 257 }, 13);
  });
});
