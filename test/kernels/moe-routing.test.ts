/**
 * The MoE routing kernels (compiler/codegen/wgsl/kernels/moe/) on the real adapter:
 *  - moe_route against a float64 softmax + stable top-k (ties in the logits → the lower index
 *    first, as the interpreter's moe_select) + gates, renormalized or not, for k = 1, 2 and E;
 *    idx must match exactly, probs/gates |err| <= 1e-7 + 1e-6·|ref| (f32 exp and division);
 *  - moe_sort: counts, offsets, order, pos and the row → expert map exactly equal to a stable
 *    sort of the slots by expert, incl. an expert no slot chose;
 *  - moe_aux_loss against the float64 coef·E·Σ fᵢPᵢ: |err| <= 1e-7 + 1e-5·|ref|;
 *  - moe_route_backward against central finite differences (h = 1e-5, float64) of
 *    L(z) = Σ dg ⊙ gates(z) + daux·aux(z) with the choice held fixed (it has no gradient):
 *    |err| <= 2e-6 + 1e-4·|ref|.
 */
import { describe, expect, it } from 'vitest';
import { generateMoeAuxLoss } from '../../compiler/codegen/wgsl/kernels/moe/aux-loss.js';
import { generateMoeRoute } from '../../compiler/codegen/wgsl/kernels/moe/route.js';
import { generateMoeRouteBackward } from '../../compiler/codegen/wgsl/kernels/moe/route-bwd.js';
import { generateMoeSort } from '../../compiler/codegen/wgsl/kernels/moe/sort.js';
import { expectClose, random, randomInts, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 1e-7, rel: 1e-6 };
const FD_TOL = { abs: 2e-6, rel: 1e-4 };

const u32s = (f: Float32Array, n: number) => Array.from(new Uint32Array(f.buffer, 0, n));
const i32s = (f: Float32Array, n: number) => Array.from(new Int32Array(f.buffer, 0, n));

function softmax(z: ArrayLike<number>, N: number, E: number): Float64Array {
  const p = new Float64Array(N * E);
  for (let t = 0; t < N; t++) {
    let m = -Infinity;
    for (let e = 0; e < E; e++) m = Math.max(m, z[t * E + e]!);
    let s = 0;
    for (let e = 0; e < E; e++) s += Math.exp(z[t * E + e]! - m);
    for (let e = 0; e < E; e++) p[t * E + e] = Math.exp(z[t * E + e]! - m) / s;
  }
  return p;
}

/** Stable top-k: larger logits first, equal ones by lower index. */
function topK(z: ArrayLike<number>, N: number, E: number, k: number): Int32Array {
  const idx = new Int32Array(N * k);
  for (let t = 0; t < N; t++) {
    const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => z[t * E + b]! - z[t * E + a]! || a - b);
    for (let j = 0; j < k; j++) idx[t * k + j] = order[j]!;
  }
  return idx;
}

function gatesOf(p: Float64Array, idx: Int32Array, N: number, E: number, k: number, renorm: boolean): Float64Array {
  const g = new Float64Array(N * k);
  for (let t = 0; t < N; t++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += p[t * E + idx[t * k + j]!]!;
    for (let j = 0; j < k; j++) g[t * k + j] = p[t * E + idx[t * k + j]!]! / (renorm ? s : 1);
  }
  return g;
}

function auxOf(p: Float64Array, idx: Int32Array, N: number, E: number, k: number, coef: number): number {
  let s = 0;
  for (let e = 0; e < E; e++) {
    const f = idx.filter((x) => x === e).length / (N * k);
    let P = 0;
    for (let t = 0; t < N; t++) P += p[t * E + e]!;
    s += f * (P / N);
  }
  return coef * E * s;
}

/** Logits with exact ties: rows drawn from a few values, some rows all equal. */
function tiedLogits(N: number, E: number, seed: number): Float32Array {
  const z = random(N * E, seed, -2, 2);
  for (let t = 0; t < N; t += 3) for (let e = 0; e < E; e++) z[t * E + e] = [0.5, -0.25, 0.5, 1][e % 4]!;
  for (let e = 0; e < E; e++) z[E + e] = 0; // row 1: all equal
  return z;
}

describe('moe_route', () => {
  for (const [N, E, k, renorm] of [
    [37, 4, 2, true],
    [37, 4, 2, false],
    [10, 8, 1, true],
    [9, 4, 4, true],
    [9, 5, 5, false],
  ] as const) {
    it(`N ${N}, E ${E}, k ${k}, ${renorm ? 'renormalized' : 'plain'} gates (with tied logits)`, async () => {
      const z = tiedLogits(N, E, N + E + k);
      const r = gpu().clear('idx', 'gates', 'probs').set('logits', z);
      await r.run(generateMoeRoute({ tokens: N, experts: E, topK: k, renormalize: renorm }));
      const p = softmax(z, N, E);
      const idx = topK(z, N, E, k);
      expect(i32s(await r.read('idx'), N * k)).toEqual(Array.from(idx));
      expectClose(await r.read('probs'), p, TOL, 'probs');
      expectClose(await r.read('gates'), gatesOf(p, idx, N, E, k, renorm), TOL, 'gates');
    });
  }
});

describe('moe_sort', () => {
  for (const [S, E] of [
    [74, 4],
    [7, 8],
    [1, 3],
  ] as const) {
    it(`${S} slots over ${E} experts (expert ${E - 1} gets none)`, async () => {
      const idx = randomInts(S, S + E, 0, E - 2);
      const r = gpu().clear('counts', 'offsets', 'order', 'pos', 'expert').set('idx', idx);
      await r.run(generateMoeSort({ slots: S, experts: E }));
      const order = Array.from({ length: S }, (_, s) => s).sort((a, b) => idx[a]! - idx[b]! || a - b);
      const counts = Array.from({ length: E }, (_, e) => idx.filter((x) => x === e).length);
      const offsets = counts.reduce((o, c) => [...o, o[o.length - 1]! + c], [0]);
      const pos = new Array<number>(S);
      order.forEach((s, p) => (pos[s] = p));
      expect(u32s(await r.read('counts'), E)).toEqual(counts);
      expect(u32s(await r.read('offsets'), E + 1)).toEqual(offsets);
      expect(u32s(await r.read('order'), S)).toEqual(order);
      expect(u32s(await r.read('pos'), S)).toEqual(pos);
      expect(u32s(await r.read('expert'), S)).toEqual(order.map((s) => idx[s]!));
    });
  }
});

describe('moe_aux_loss and moe_route_backward', () => {
  for (const [N, E, k, renorm, coef] of [
    [13, 4, 2, true, 0.01],
    [13, 4, 2, false, 0.5],
    [6, 4, 1, true, 0],
    [6, 3, 3, true, 0.2],
    [6, 3, 3, false, 0],
  ] as const) {
    it(`N ${N}, E ${E}, k ${k}, ${renorm ? 'renormalized' : 'plain'}, aux coef ${coef}`, async () => {
      const z = random(N * E, 100 + N * k, -2, 2);
      const idx = topK(z, N, E, k);
      const dg = random(N * k, 7 + E);
      const daux = 1.7;
      const counts = Uint32Array.from({ length: E }, (_, e) => idx.filter((x) => x === e).length);
      const r = gpu()
        .clear('dlogits', 'aux')
        .set('probs', new Float32Array(softmax(z, N, E)))
        .set('idx', idx)
        .set('dgates', dg);
      r.set('counts', counts).set('daux', Float32Array.of(daux));
      const kernels = [generateMoeRouteBackward({ tokens: N, experts: E, topK: k, renormalize: renorm, auxCoef: coef })];
      if (coef > 0) kernels.push(generateMoeAuxLoss({ tokens: N, experts: E, topK: k, coef }));
      await r.run(kernels);
      const L = (zz: Float64Array) => {
        const p = softmax(zz, N, E);
        const g = gatesOf(p, idx, N, E, k, renorm);
        let s = 0;
        for (let i = 0; i < N * k; i++) s += dg[i]! * g[i]!;
        return s + (coef > 0 ? daux * auxOf(p, idx, N, E, k, coef) : 0);
      };
      const zz = Float64Array.from(z);
      const want = new Float64Array(N * E);
      const h = 1e-5;
      for (let i = 0; i < N * E; i++) {
        const z0 = zz[i]!;
        zz[i] = z0 + h;
        const a = L(zz);
        zz[i] = z0 - h;
        const b = L(zz);
        zz[i] = z0;
        want[i] = (a - b) / (2 * h);
      }
      expectClose(await r.read('dlogits'), want, FD_TOL, 'dlogits vs finite differences');
      if (coef > 0) {
        const aux = (await r.read('aux'))[0]!;
        const ref = auxOf(softmax(z, N, E), idx, N, E, k, coef);
        expect(Math.abs(aux - ref)).toBeLessThan(1e-7 + 1e-5 * Math.abs(ref));
      }
    });
  }
});
