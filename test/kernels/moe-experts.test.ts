/**
 * The MoE expert kernels (compiler/codegen/wgsl/kernels/moe/) on the real adapter, on slots
 * sorted by moe_sort (tested in moe-routing.test.ts), against float64 references computed in
 * slot order (the interpreter's expert_linear / moe_combine definitions):
 *  - the grouped matmul, gathering per-token rows (up/gate) or reading sorted rows (down), with
 *    and without the stacked bias: hidden 7 runs the one-value-per-invocation kernels, hidden
 *    8 and 16 the register-tiled ones (tiles of 4 rows of one expert; 37 tokens put several
 *    tiles and partial tiles in each expert);
 *  - its backward: dA (also accumulated), dW (gathered and sorted A) and db, incl. an expert
 *    that gets no slot (its gradients must be exactly 0);
 *  - moe_combine, the token gather of the backward, and the combine's dys and dgates;
 * for k = 1, 2 and k = E. |err| <= 1e-6 + 1e-5·|ref| (f32 sums of ≤ 40 products of values in
 * (−1, 1)).
 */
import { describe, expect, it } from 'vitest';
import { generateGroupedMatmul } from '../../compiler/codegen/wgsl/kernels/moe/grouped-matmul.js';
import {
  generateGroupedBiasGrad,
  generateGroupedMatmulDw,
  generateGroupedMatmulDx,
} from '../../compiler/codegen/wgsl/kernels/moe/grouped-matmul-bwd.js';
import { generateMoeCombine } from '../../compiler/codegen/wgsl/kernels/moe/combine.js';
import { generateMoeCombineDgates, generateMoeCombineDys } from '../../compiler/codegen/wgsl/kernels/moe/combine-bwd.js';
import { generateMoeSort } from '../../compiler/codegen/wgsl/kernels/moe/sort.js';
import { expectClose, random, randomInts, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 1e-6, rel: 1e-5 };

interface Case {
  N: number;
  k: number;
  E: number;
  F: number;
}

/** Distinct experts per token (as top-k gives), expert E − 1 never chosen unless k = E. */
function route({ N, k, E }: Case, seed: number): Int32Array {
  const idx = new Int32Array(N * k);
  const pool = k === E ? E : E - 1;
  const r = randomInts(N * pool, seed, 0, 1_000_000);
  for (let t = 0; t < N; t++) {
    const order = Array.from({ length: pool }, (_, e) => e).sort((a, b) => r[t * pool + a]! - r[t * pool + b]! || a - b);
    for (let j = 0; j < k; j++) idx[t * k + j] = order[j]!;
  }
  return idx;
}

describe.each([
  { N: 11, k: 2, E: 4, F: 7 },
  { N: 11, k: 2, E: 4, F: 8 },
  { N: 9, k: 1, E: 3, F: 7 },
  { N: 37, k: 2, E: 5, F: 16 },
  { N: 5, k: 3, E: 3, F: 8 },
])('moe expert kernels, N $N, k $k, E $E, hidden $F', (cs) => {
  const { N, k, E, F } = cs;
  const S = N * k;
  const C = 12;
  const idx = route(cs, N + k + E);
  const order = Array.from({ length: S }, (_, s) => s).sort((a, b) => idx[a]! - idx[b]! || a - b);
  const pos = new Array<number>(S);
  order.forEach((s, p) => (pos[s] = p));
  const x = random(N * C, 1);
  const wUp = random(E * F * C, 2);
  const bUp = random(E * F, 3);
  const wDown = random(E * C * F, 4);
  const hSorted = random(S * F, 5);
  const gates = random(S, 6, 0, 1);
  const dy = random(N * C, 7);

  const sorted = async () => {
    const r = gpu().clear('counts', 'offsets', 'order', 'pos', 'expert').set('idx', idx);
    await r.run(generateMoeSort({ slots: S, experts: E }));
    return r;
  };

  it('grouped matmul forward: gathered per-token rows with bias, and sorted rows without', async () => {
    const r = (await sorted()).clear('out').set('a', x).set('w', wUp).set('b', bUp);
    const up = generateGroupedMatmul({ rows: S, inDim: C, outDim: F, experts: E, bias: true, gather: k });
    expect(up.code.includes('register tiles')).toBe(F % 4 === 0);
    await r.run(up);
    const want = new Float64Array(S * F);
    order.forEach((s, p) => {
      const e = idx[s]!;
      const t = Math.floor(s / k);
      for (let o = 0; o < F; o++) {
        let v = bUp[e * F + o]!;
        for (let i = 0; i < C; i++) v += x[t * C + i]! * wUp[(e * F + o) * C + i]!;
        want[p * F + o] = v;
      }
    });
    expectClose(await r.read('out'), want, TOL, 'up (gathered, bias)');

    r.clear('out').set('a', hSorted).set('w', wDown);
    await r.run(generateGroupedMatmul({ rows: S, inDim: F, outDim: C, experts: E, bias: false }));
    const down = new Float64Array(S * C);
    order.forEach((s, p) => {
      const e = idx[s]!;
      for (let o = 0; o < C; o++) {
        let v = 0;
        for (let i = 0; i < F; i++) v += hSorted[p * F + i]! * wDown[(e * C + o) * F + i]!;
        down[p * C + o] = v;
      }
    });
    expectClose(await r.read('out'), down, TOL, 'down (sorted)');
  });

  it('grouped matmul backward: dA (overwrite, accumulate), dW (gathered, sorted), db; an idle expert gets exactly 0', async () => {
    const dUp = random(S * F, 8); // d(up) in sorted order
    const r = (await sorted()).clear('da', 'dw', 'db').set('dout', dUp).set('w', wUp);
    await r.run(generateGroupedMatmulDx({ rows: S, inDim: C, outDim: F, experts: E }));
    const da = new Float64Array(S * C);
    order.forEach((s, p) => {
      const e = idx[s]!;
      for (let i = 0; i < C; i++) for (let o = 0; o < F; o++) da[p * C + i] += dUp[p * F + o]! * wUp[(e * F + o) * C + i]!;
    });
    expectClose(await r.read('da'), da, TOL, 'dA');
    await r.run(generateGroupedMatmulDx({ rows: S, inDim: C, outDim: F, experts: E, accumulate: true }));
    expectClose(
      await r.read('da'),
      da.map((v) => 2 * v),
      TOL,
      'dA accumulated',
    );

    r.set('a', x);
    await r.run([
      generateGroupedMatmulDw({ rows: S, inDim: C, outDim: F, experts: E, gather: k }),
      generateGroupedBiasGrad({ rows: S, outDim: F, experts: E }),
    ]);
    const dw = new Float64Array(E * F * C);
    const db = new Float64Array(E * F);
    for (let s = 0; s < S; s++) {
      const e = idx[s]!;
      const p = pos[s]!;
      const t = Math.floor(s / k);
      for (let o = 0; o < F; o++) {
        db[e * F + o] += dUp[p * F + o]!;
        for (let i = 0; i < C; i++) dw[(e * F + o) * C + i] += dUp[p * F + o]! * x[t * C + i]!;
      }
    }
    const gotDw = await r.read('dw');
    expectClose(gotDw, dw, TOL, 'dW (gathered A)');
    expectClose(await r.read('db'), db, TOL, 'db');
    if (k < E) expect(Array.from(gotDw.subarray((E - 1) * F * C, E * F * C)).every((v) => v === 0)).toBe(true);

    const dDown = random(S * C, 9);
    r.clear('dw').set('dout', dDown).set('a', hSorted);
    await r.run(generateGroupedMatmulDw({ rows: S, inDim: F, outDim: C, experts: E }));
    const dw2 = new Float64Array(E * C * F);
    order.forEach((s, p) => {
      const e = idx[s]!;
      for (let o = 0; o < C; o++) for (let i = 0; i < F; i++) dw2[(e * C + o) * F + i] += dDown[p * C + o]! * hSorted[p * F + i]!;
    });
    expectClose(await r.read('dw'), dw2, TOL, 'dW (sorted A)');
  });

  it('combine, its dys and dgates, and the token gather of dX', async () => {
    const ys = random(S * C, 10); // sorted expert outputs
    const r = (await sorted()).clear('out', 'dys', 'dgates').set('ys', ys).set('gates', gates).set('dy', dy);
    await r.run(generateMoeCombine({ tokens: N, topK: k, C }));
    const y = new Float64Array(N * C);
    const sum = new Float64Array(N * C);
    for (let t = 0; t < N; t++)
      for (let j = 0; j < k; j++)
        for (let c = 0; c < C; c++) {
          y[t * C + c] += gates[t * k + j]! * ys[pos[t * k + j]! * C + c]!;
          sum[t * C + c] += ys[pos[t * k + j]! * C + c]!;
        }
    expectClose(await r.read('out'), y, TOL, 'combine');
    r.clear('out');
    await r.run(generateMoeCombine({ tokens: N, topK: k, C, gates: false }));
    expectClose(await r.read('out'), sum, TOL, 'token gather');

    await r.run([generateMoeCombineDys({ tokens: N, topK: k, C }), generateMoeCombineDgates({ tokens: N, topK: k, C })]);
    const dys = new Float64Array(S * C);
    const dg = new Float64Array(S);
    for (let s = 0; s < S; s++) {
      const t = Math.floor(s / k);
      for (let c = 0; c < C; c++) {
        dys[pos[s]! * C + c] = gates[s]! * dy[t * C + c]!;
        dg[s] += ys[pos[s]! * C + c]! * dy[t * C + c]!;
      }
    }
    expectClose(await r.read('dys'), dys, TOL, 'dys');
    expectClose(await r.read('dgates'), dg, TOL, 'dgates');
  });
});
