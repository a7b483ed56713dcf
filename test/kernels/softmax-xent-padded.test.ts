/**
 * softmax_xent over a vocabulary padded to vocab_multiple (`classes` < V), on the real adapter
 * against a float64 reference over the first `classes` columns only. The padding columns are
 * set on purpose to values that would dominate or poison the row (1e30, +Inf, NaN): the loss
 * must not see them, their gradient must be exactly 0, and a target among them is ignored like
 * one past V. Tolerances as in softmax-xent.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { generateSoftmaxXent, generateXentMean, type SoftmaxXentSpec } from '../../compiler/codegen/wgsl/kernels/softmax-xent.js';
import { expectClose, random, randomInts, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 2e-6, rel: 2e-6 };
const GRAD_TOL = { abs: 1e-7, rel: 1e-5 };
const POISON = [1e30, Infinity, NaN, 3e38];

function reference(rows: number, V: number, K: number, z: Float32Array, y: Int32Array) {
  const lossRows = new Float64Array(rows);
  const d = new Float64Array(rows * V);
  const counted = (t: number) => t >= 0 && t < K;
  const count = Array.from(y).filter(counted).length;
  for (let r = 0; r < rows; r++) {
    const t = y[r]!;
    if (!counted(t)) continue;
    let m = -Infinity;
    for (let c = 0; c < K; c++) m = Math.max(m, z[r * V + c]!);
    let s = 0;
    for (let c = 0; c < K; c++) s += Math.exp(z[r * V + c]! - m);
    const lse = m + Math.log(s);
    lossRows[r] = lse - z[r * V + t]!;
    for (let c = 0; c < K; c++) d[r * V + c] = (Math.exp(z[r * V + c]! - lse) - (c === t ? 1 : 0)) / count;
  }
  return { lossRows, mean: count ? lossRows.reduce((a, b) => a + b, 0) / count : 0, d };
}

async function check(s: SoftmaxXentSpec & { classes: number }, seed: number): Promise<void> {
  const { rows, V, classes: K } = s;
  const z = random(rows * V, seed, -8, 8);
  for (let r = 0; r < rows; r++) for (let c = K; c < V; c++) z[r * V + c] = POISON[(r + c) % POISON.length]!;
  const y = randomInts(rows, seed + 1, 0, K - 1);
  y[1] = -1; // ignored
  y[2] = K; // a padding column: ignored too
  y[rows - 1] = V - 1;
  const r = gpu().clear('loss_rows', 'loss', 'dlogits', 'xent_sync').set('logits', z).set('targets', y);
  const kernels = [generateSoftmaxXent(s)];
  if (s.mean === 'separate') kernels.push(generateXentMean({ rows, V, classes: K }));
  await r.run(kernels);
  const want = reference(rows, V, K, z, y);
  const what = JSON.stringify(s);
  expectClose(await r.read('loss_rows'), want.lossRows, TOL, `${what} loss_rows`);
  expectClose(await r.read('loss'), [want.mean], TOL, `${what} mean loss`);
  if (s.dlogits) {
    const d = await r.read(s.dlogits === 'separate' ? 'dlogits' : 'logits');
    expectClose(d, want.d, GRAD_TOL, `${what} dlogits`);
    for (let row = 0; row < rows; row++) for (let c = K; c < V; c++) expect(Math.abs(d[row * V + c]!), `d[${row}, ${c}]`).toBe(0);
  }
}

describe('softmax_xent with padded vocabulary columns', () => {
  it('V = 64 (vec4), classes = 61 (a vector straddles the boundary), dlogits separate', async () => {
    await check({ rows: 11, V: 64, classes: 61, dlogits: 'separate' }, 1);
  });

  it('V = 64, classes = 48 (whole vectors of padding), dlogits in place, separate mean', async () => {
    await check({ rows: 9, V: 64, classes: 48, dlogits: 'in_place', mean: 'separate' }, 2);
  });

  it('V = 65 (scalar path), classes = 50, loss only; cpu tuning with subgroups', async () => {
    await check({ rows: 13, V: 65, classes: 50, tuning: 'cpu', subgroupMinSize: gpu().gpu.subgroupMinSize }, 3);
  });

  it('refuses classes outside [1, V] and says so in the header', () => {
    expect(() => generateSoftmaxXent({ rows: 2, V: 8, classes: 9 })).toThrow(/classes 9 must be <= V 8/);
    expect(() => generateXentMean({ rows: 2, V: 8, classes: 0 })).toThrow(/classes must be an integer >= 1/);
    expect(generateSoftmaxXent({ rows: 2, V: 64, classes: 50 }).code).toMatch(/columns 50\.\.63 are vocabulary padding/);
  });
});
