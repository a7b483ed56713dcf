/**
 * residual_norm_backward and norm_param_grad on the real adapter, against
 *  - central finite differences (step 1e-3) of the float64 forward definition, loss
 *    L = Σ dout ⊙ norm(x)·w + b, on small shapes: |err| <= 1e-5 + 1e-4·|ref| (the FD
 *    truncation error h²/6·L''' is ~1e-6 here);
 *  - the analytic float64 backward on odd shapes (C = 101 scalar path, rows = 37 and 67, not
 *    multiples of the 64-invocation workgroups of the column kernel): |err| <= 2e-6 + 1e-5·|ref|
 *    (f32 sums over C or over rows of O(1) terms).
 * x gets a per-row offset of up to ±2, so a layernorm that forgot the mean would show. The
 * kernels read stats (mean, rstd) as the forward writes them: computed in float64 here and
 * rounded to f32.
 */
import { describe, expect, it } from 'vitest';
import {
  generateNormParamGrad,
  generateResidualNormBackward,
  type ResidualNormBackwardSpec,
} from '../../compiler/codegen/wgsl/kernels/backward/residual-norm-bwd.js';
import type { NormKind } from '../../compiler/codegen/wgsl/kernels/residual-norm.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const FD_TOL = { abs: 1e-5, rel: 1e-4 };
const TOL = { abs: 2e-6, rel: 1e-5 };
const H = 1e-3;

interface Problem {
  rows: number;
  C: number;
  norm: NormKind;
  eps: number;
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
  dout: Float32Array;
}

function makeProblem(rows: number, C: number, norm: NormKind, seed: number): Problem {
  const x = random(rows * C, seed);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) x[r * C + c]! += (r % 5) - 2;
  return { rows, C, norm, eps: 1e-5, x, w: random(C, seed + 1, 0.5, 1.5), b: random(C, seed + 2), dout: random(rows * C, seed + 3) };
}

function rowStats(p: Problem, x: ArrayLike<number>, r: number): [number, number] {
  const { C } = p;
  let mean = 0;
  if (p.norm === 'layernorm') for (let c = 0; c < C; c++) mean += x[r * C + c]! / C;
  let ms = 0;
  for (let c = 0; c < C; c++) ms += (x[r * C + c]! - mean) ** 2 / C;
  return [mean, 1 / Math.sqrt(ms + p.eps)];
}

/** L = Σ dout · (x̂·w + b), float64. */
function loss(p: Problem, x: ArrayLike<number>, w: ArrayLike<number> | null, b: ArrayLike<number> | null): number {
  let L = 0;
  for (let r = 0; r < p.rows; r++) {
    const [mean, rstd] = rowStats(p, x, r);
    for (let c = 0; c < p.C; c++) {
      const y = (x[r * p.C + c]! - mean) * rstd * (w ? w[c]! : 1) + (b ? b[c]! : 0);
      L += p.dout[r * p.C + c]! * y;
    }
  }
  return L;
}

function fd(f: (v: Float64Array) => number, at: ArrayLike<number>): Float64Array {
  const v = Float64Array.from(at),
    g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x0 = v[i]!;
    v[i] = x0 + H;
    const a = f(v);
    v[i] = x0 - H;
    const b = f(v);
    v[i] = x0;
    g[i] = (a - b) / (2 * H);
  }
  return g;
}

/** The analytic float64 backward: dx, dweight, dbias. */
function analytic(p: Problem, weight: boolean) {
  const { rows, C } = p;
  const dx = new Float64Array(rows * C),
    dw = new Float64Array(C),
    db = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    const [mean, rstd] = rowStats(p, p.x, r);
    let mg = 0,
      mgx = 0;
    const xh = new Float64Array(C),
      g = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      xh[c] = (p.x[r * C + c]! - mean) * rstd;
      g[c] = p.dout[r * C + c]! * (weight ? p.w[c]! : 1);
      mg += g[c]! / C;
      mgx += (g[c]! * xh[c]!) / C;
      dw[c]! += p.dout[r * C + c]! * xh[c]!;
      db[c]! += p.dout[r * C + c]!;
    }
    if (p.norm === 'rmsnorm') mg = 0;
    for (let c = 0; c < C; c++) dx[r * C + c] = rstd * (g[c]! - mg - xh[c]! * mgx);
  }
  return { dx, dw, db };
}

function gpuStats(p: Problem): Float32Array {
  const s = new Float32Array(2 * p.rows);
  for (let r = 0; r < p.rows; r++) s.set(rowStats(p, p.x, r), 2 * r);
  return s;
}

describe('residual_norm_backward matches finite differences of the float64 forward', () => {
  it('layernorm, weight and bias, 3 rows × C = 8 (vec4): dx, dweight, dbias', async () => {
    const p = makeProblem(3, 8, 'layernorm', 1);
    const r = gpu().clear('dx', 'dweight', 'dbias').set('x', p.x).set('stats', gpuStats(p)).set('weight', p.w).set('dout', p.dout);
    await r.run([
      generateResidualNormBackward({ rows: 3, C: 8, norm: 'layernorm', eps: p.eps, bias: true }),
      generateNormParamGrad({ rows: 3, C: 8, norm: 'layernorm', bias: true }),
    ]);
    expectClose(
      await r.read('dx'),
      fd((v) => loss(p, v, p.w, p.b), p.x),
      FD_TOL,
      'layernorm dx',
    );
    expectClose(
      await r.read('dweight'),
      fd((v) => loss(p, p.x, v, p.b), p.w),
      FD_TOL,
      'layernorm dweight',
    );
    expectClose(
      await r.read('dbias'),
      fd((v) => loss(p, p.x, p.w, v), p.b),
      FD_TOL,
      'layernorm dbias',
    );
  });

  it('rmsnorm with the residual gradient added (dresid), 2 rows × C = 5 (scalar); dweight accumulated', async () => {
    const p = makeProblem(2, 5, 'rmsnorm', 2);
    const dresid = random(10, 20),
      dw0 = random(5, 21);
    const r = gpu()
      .clear('dx')
      .set('x', p.x)
      .set('stats', gpuStats(p))
      .set('weight', p.w)
      .set('dout', p.dout)
      .set('dresid', dresid)
      .set('dweight', dw0);
    await r.run([
      generateResidualNormBackward({ rows: 2, C: 5, norm: 'rmsnorm', eps: p.eps, accumulate: true }),
      generateNormParamGrad({ rows: 2, C: 5, norm: 'rmsnorm', accumulate: true }),
    ]);
    const dx = fd((v) => loss(p, v, p.w, null), p.x).map((g, i) => g + dresid[i]!);
    expectClose(await r.read('dx'), dx, FD_TOL, 'rmsnorm dx');
    const dw = fd((v) => loss(p, p.x, v, null), p.w).map((g, i) => g + dw0[i]!);
    expectClose(await r.read('dweight'), dw, FD_TOL, 'rmsnorm dweight');
  });
});

describe('residual_norm_backward matches the analytic float64 backward on odd shapes', () => {
  it("layernorm, 37 rows × C = 101, dx accumulated in place, 'cpu' tuning with the adapter's subgroups; dweight and dbias", async () => {
    const p = makeProblem(37, 101, 'layernorm', 3);
    const dx0 = random(37 * 101, 30);
    const spec: ResidualNormBackwardSpec = {
      rows: 37,
      C: 101,
      norm: 'layernorm',
      eps: p.eps,
      accumulate: 'in_place',
      tuning: 'cpu',
      subgroupMinSize: gpu().gpu.subgroupMinSize,
    };
    const k = generateResidualNormBackward(spec);
    expect(k.bindings.map((b) => `${b.name}:${b.access}`)).toEqual(['x:read', 'stats:read', 'weight:read', 'dout:read', 'dx:read_write']);
    const r = gpu().clear('dweight', 'dbias').set('x', p.x).set('stats', gpuStats(p)).set('weight', p.w).set('dout', p.dout).set('dx', dx0);
    await r.run([k, generateNormParamGrad({ rows: 37, C: 101, norm: 'layernorm', bias: true })]);
    const want = analytic(p, true);
    expectClose(
      await r.read('dx'),
      want.dx.map((g, i) => g + dx0[i]!),
      TOL,
      'layernorm dx',
    );
    expectClose(await r.read('dweight'), want.dw, TOL, 'layernorm dweight');
    expectClose(await r.read('dbias'), want.db, TOL, 'layernorm dbias');
  });

  it('rmsnorm without a weight, 67 rows × C = 256 (vec4); dbias only', async () => {
    const p = makeProblem(67, 256, 'rmsnorm', 4);
    const r = gpu().clear('dx', 'dbias').set('x', p.x).set('stats', gpuStats(p)).set('dout', p.dout);
    const k = generateResidualNormBackward({ rows: 67, C: 256, norm: 'rmsnorm', eps: p.eps, weight: false });
    const pg = generateNormParamGrad({ rows: 67, C: 256, norm: 'rmsnorm', weight: false, bias: true });
    expect(pg.bindings.map((b) => b.name)).toEqual(['dout', 'dbias']);
    await r.run([k, pg]);
    const want = analytic(p, false);
    expectClose(await r.read('dx'), want.dx, TOL, 'rmsnorm dx');
    expectClose(await r.read('dbias'), want.db, TOL, 'rmsnorm dbias');
  });

  it('headers and spec checks', () => {
    const k = generateResidualNormBackward({ rows: 4, C: 8, norm: 'layernorm', eps: 1e-5 });
    expect(k.code.split('\n')[0]).toMatch(
      /^\/\/ generated by mspec — residual_norm_backward: fuses layernorm_backward; shapes [^;]+; FLOPs \d+; bytes \d+$/,
    );
    expect(k.fuses).toEqual(['layernorm_backward']);
    expect(() => generateNormParamGrad({ rows: 4, C: 8, norm: 'rmsnorm', weight: false })).toThrow(/nothing to compute/);
    expect(() => generateResidualNormBackward({ rows: 0, C: 8, norm: 'rmsnorm', eps: 1e-5 })).toThrow(/rows/);
  });
});
