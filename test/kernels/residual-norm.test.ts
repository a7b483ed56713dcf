/**
 * residual_norm on the real adapter against a float64 reference (simple loops, two-pass
 * variance). Inputs uniform(-1, 1) plus a per-row offset of up to ±2, so the mean is not ~0
 * and a cancelling variance formula would show. Tolerances: out and stats |err| <= 2e-6 +
 * 2e-6·|ref| (measured <= 5e-7; an eps of 1e-5 added in the wrong place would show); the
 * residual sum exactly (one f32 add).
 */
import { describe, it } from 'vitest';
import { generateResidualNorm, type ResidualNormSpec } from '../../compiler/codegen/wgsl/kernels/residual-norm.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 2e-6, rel: 2e-6 };

function reference(s: ResidualNormSpec, x: Float32Array, y: Float32Array | null, w: Float32Array, b: Float32Array) {
  const { rows, C } = s;
  const sum = new Float64Array(rows * C),
    out = new Float64Array(rows * C),
    stats = new Float64Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    let mean = 0,
      ms = 0;
    for (let c = 0; c < C; c++) {
      // The sum is an f32 add on the GPU: reference it as such (it is what gets normalised too).
      const v = y ? Math.fround(x[r * C + c]! + y[r * C + c]!) : x[r * C + c]!;
      sum[r * C + c] = v;
      mean += v / C;
    }
    if (s.norm === 'rmsnorm') mean = 0;
    for (let c = 0; c < C; c++) ms += (sum[r * C + c]! - mean) ** 2 / C;
    const rstd = 1 / Math.sqrt(ms + s.eps);
    for (let c = 0; c < C; c++) {
      const wc = s.weight === false ? 1 : w[c]!;
      out[r * C + c] = (sum[r * C + c]! - mean) * rstd * wc + (s.bias ? b[c]! : 0);
    }
    stats[2 * r] = mean;
    stats[2 * r + 1] = rstd;
  }
  return { sum, out, stats };
}

async function check(s: ResidualNormSpec, seed: number): Promise<void> {
  const n = s.rows * s.C;
  const x = random(n, seed);
  for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.C; c++) x[r * s.C + c]! += (r % 5) - 2;
  const y = s.branch ? random(n, seed + 1) : null;
  const w = random(s.C, seed + 2, 0.5, 1.5),
    b = random(s.C, seed + 3);
  const k = generateResidualNorm(s);
  const r = gpu().clear('out', 'sum', 'stats').set('x', x).set('weight', w).set('bias', b);
  if (y) r.set('y', y);
  await r.run(k);
  const want = reference(s, x, y, w, b);
  const what = JSON.stringify(s);
  expectClose(await r.read('out'), want.out, TOL, `${what} out`);
  const sumMode = s.branch ? (s.sum ?? 'separate') : 'none';
  if (sumMode !== 'none') expectClose(await r.read(sumMode === 'separate' ? 'sum' : 'x'), want.sum, { abs: 0, rel: 0 }, `${what} sum`);
  if (s.stats) expectClose(await r.read('stats'), want.stats, TOL, `${what} stats`);
}

describe('residual_norm matches the float64 reference', () => {
  it('layernorm + residual (sum written, stats), C = 64, 4 rows; and a row per workgroup at C = 8192', async () => {
    await check({ rows: 4, C: 64, norm: 'layernorm', eps: 1e-5, branch: true, bias: true, stats: true }, 1);
    await check({ rows: 3, C: 8192, norm: 'layernorm', eps: 1e-5, branch: true, bias: true, tuning: 'cpu' }, 2);
  });

  it('layernorm without a branch, odd C = 37 (scalar path, tail guard), no weight', async () => {
    await check({ rows: 5, C: 37, norm: 'layernorm', eps: 1e-6, weight: false, bias: true }, 3);
  });

  it('rmsnorm + residual written in place, C = 100 (vec4 tail); rmsnorm alone with stats, C = 7, T = 1', async () => {
    await check({ rows: 6, C: 100, norm: 'rmsnorm', eps: 1e-6, branch: true, sum: 'in_place' }, 4);
    await check({ rows: 1, C: 7, norm: 'rmsnorm', eps: 1e-5, stats: true }, 5);
  });

  it('rmsnorm + residual whose sum nothing reads (no sum binding)', async () => {
    await check({ rows: 2, C: 48, norm: 'rmsnorm', eps: 1e-6, branch: true, sum: 'none' }, 6);
  });

  it("'cpu' tuning with the adapter's subgroups (one subgroup per row, no barriers): layernorm C = 768, rmsnorm C = 37", async () => {
    const sg = gpu().gpu.subgroupMinSize;
    await check(
      { rows: 5, C: 768, norm: 'layernorm', eps: 1e-5, branch: true, bias: true, stats: true, tuning: 'cpu', subgroupMinSize: sg },
      7,
    );
    await check({ rows: 3, C: 37, norm: 'rmsnorm', eps: 1e-6, branch: true, sum: 'in_place', tuning: 'cpu', subgroupMinSize: sg }, 8);
  });
});
