/**
 * softmax_xent on the real adapter against a float64 reference (logsumexp by definition).
 * Logits uniform(-8, 8); some targets are -1 (ignored) or V (out of range, also ignored).
 * Tolerances: loss_rows and the mean |err| <= 2e-6·(1 + |ref|) (f32 sums of up to ~1000 exp
 * terms; measured well below); dlogits |err| <= 1e-7 + 1e-5·|ref| (each entry is an f32 exp
 * divided by the count).
 */
import { describe, expect, it } from 'vitest';
import { generateSoftmaxXent, generateXentMean, type SoftmaxXentSpec } from '../../compiler/codegen/wgsl/kernels/softmax-xent.js';
import { expectClose, random, randomInts, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 2e-6, rel: 2e-6 };
const GRAD_TOL = { abs: 1e-7, rel: 1e-5 };

function reference(rows: number, V: number, z: Float32Array, y: Int32Array) {
  const lossRows = new Float64Array(rows),
    d = new Float64Array(rows * V);
  let count = 0;
  for (let r = 0; r < rows; r++) if (y[r]! >= 0 && y[r]! < V) count++;
  for (let r = 0; r < rows; r++) {
    const t = y[r]!;
    if (t < 0 || t >= V) continue;
    let m = -Infinity;
    for (let c = 0; c < V; c++) m = Math.max(m, z[r * V + c]!);
    let s = 0;
    for (let c = 0; c < V; c++) s += Math.exp(z[r * V + c]! - m);
    const lse = m + Math.log(s);
    lossRows[r] = lse - z[r * V + t]!;
    for (let c = 0; c < V; c++) d[r * V + c] = (Math.exp(z[r * V + c]! - lse) - (c === t ? 1 : 0)) / count;
  }
  const mean = count ? lossRows.reduce((a, b) => a + b, 0) / count : 0;
  return { lossRows, mean, d };
}

function targets(rows: number, V: number, seed: number): Int32Array {
  const y = randomInts(rows, seed, 0, V - 1);
  if (rows > 2) {
    y[1] = -1;
    y[rows - 1] = V;
  }
  return y;
}

async function check(s: SoftmaxXentSpec, seed: number, repeat = 1): Promise<void> {
  const z = random(s.rows * s.V, seed, -8, 8),
    y = targets(s.rows, s.V, seed + 1);
  const r = gpu().clear('loss_rows', 'loss', 'dlogits', 'xent_sync').set('logits', z).set('targets', y);
  const kernels = [generateSoftmaxXent(s)];
  if (s.mean === 'separate') kernels.push(generateXentMean({ rows: s.rows, V: s.V }));
  // Repeats check that the ticket resets (each run must find xent_sync back at 0).
  for (let i = 0; i < repeat; i++) await r.run(kernels);
  const want = reference(s.rows, s.V, z, y);
  const what = JSON.stringify(s);
  expectClose(await r.read('loss_rows'), want.lossRows, TOL, `${what} loss_rows`);
  expectClose(await r.read('loss'), [want.mean], TOL, `${what} mean loss`);
  if (s.dlogits) expectClose(await r.read(s.dlogits === 'separate' ? 'dlogits' : 'logits'), want.d, GRAD_TOL, `${what} dlogits`);
}

describe('softmax_xent matches the float64 reference', () => {
  it('loss only, V = 1000 (vec4), 37 rows, mean by the last workgroup, run 3 times', async () => {
    await check({ rows: 37, V: 1000 }, 1, 3);
  });

  it('with dlogits, odd V = 65 (scalar path), 12 rows, cpu tuning', async () => {
    await check({ rows: 12, V: 65, dlogits: 'separate', tuning: 'cpu' }, 2);
  });

  it('dlogits over the logits in place, V = 256, 9 rows; mean in a separate kernel', async () => {
    await check({ rows: 9, V: 256, dlogits: 'in_place', mean: 'separate' }, 3);
  });

  it("'cpu' tuning with the adapter's subgroups: V = 500, dlogits, 20 rows", async () => {
    await check({ rows: 20, V: 500, dlogits: 'separate', tuning: 'cpu', subgroupMinSize: gpu().gpu.subgroupMinSize }, 6, 2);
  });

  it('one row; and no counted row gives loss 0', async () => {
    await check({ rows: 1, V: 7 }, 4);
    const r = gpu()
      .clear('loss_rows', 'loss', 'xent_sync')
      .set('logits', random(3 * 7, 5))
      .set('targets', new Int32Array([-1, -1, 7]));
    await r.run(generateSoftmaxXent({ rows: 3, V: 7 }));
    expect(Array.from((await r.read('loss')).subarray(0, 1))).toEqual([0]);
  });

  it('binds logits, targets, loss_rows, loss, xent_sync (dlogits)', () => {
    const k = generateSoftmaxXent({ rows: 4, V: 8, dlogits: 'separate' });
    expect(k.bindings.map((b) => `${b.name}:${b.access}`)).toEqual([
      'logits:read',
      'targets:read',
      'loss_rows:read_write',
      'loss:read_write',
      'xent_sync:read_write',
      'dlogits:read_write',
    ]);
    expect(k.fuses).toEqual(['softmax_xent']);
  });
});
