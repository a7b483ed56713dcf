/**
 * The few-row fused projection kernel (compiler/codegen/wgsl/matmul-rows.ts) on the real
 * adapter: every part against a float64 reference (matmul, bias, activation or GLU gate, RoPE at
 * Step.offset + m, rows written at Step.offset of a cache), and, where it claims to, bit for bit
 * equal to what the 'cpu' matmul (and the separate gate matmul) computes, since decode rows must
 * equal the prefill rows. K = 40 is, with x shared, one broadcast block of 8 k-vec4s and a 2-vec4 tail.
 */
import { describe, expect, it } from 'vitest';
import { generateMatmul } from '../../compiler/codegen/wgsl/matmul.js';
import { generateRowsMatmul, rowsUnsupported, type RowsSpec } from '../../compiler/codegen/wgsl/matmul-rows.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { ACTIVATIONS } from '../../compiler/ir/activations.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const K = 40;

/** x·Wᵀ + b in float64, [M, N]. */
function ref(x: Float32Array, w: Float32Array, b: Float32Array | null, M: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = b ? b[n]! : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k]! * w[n * K + k]!;
      out[m * N + n] = s;
    }
  return out;
}

/** rotate_half RoPE of row-major [M, heads·D] at positions offset + m, in float64. */
function rope(y: Float64Array, M: number, heads: number, D: number, base: number, offset: number): Float64Array {
  const out = new Float64Array(y.length);
  const half = D / 2;
  for (let m = 0; m < M; m++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const at = m * heads * D + h * D + i;
        const angle = (offset + m) * base ** (-(2 * i) / D);
        const a = y[at]!;
        const e = y[at + half]!;
        out[at] = a * Math.cos(angle) - e * Math.sin(angle);
        out[at + half] = e * Math.cos(angle) + a * Math.sin(angle);
      }
  return out;
}

const TOL = { abs: 2e-6, rel: 2e-6 };

describe('rows matmul (decode projections)', () => {
  it.each([true, false])(
    'Q, K and V in one dispatch: RoPE on Q and K, K and V rows into caches at Step.offset (x shared: %s)',
    async (shareX) => {
      const M = 2;
      const offset = 3;
      const ctx = 6;
      const spec: RowsSpec = {
        M,
        K,
        subgroupMinSize: 8,
        shareX,
        name: 'qkv',
        parts: [
          { name: 'q', N: 32, bias: false, rope: { heads: 2, head_dim: 16, base: 10000 } },
          { name: 'k', N: 16, bias: false, rope: { heads: 1, head_dim: 16, base: 10000 }, cacheRows: ctx },
          { name: 'v', N: 16, bias: false, cacheRows: ctx },
        ],
      };
      expect(rowsUnsupported(spec)).toBeNull();
      const k = generateRowsMatmul(spec);
      expect(k.dispatch).toEqual([1 + 1 + 1, 1, 1]); // 8, 4 and 4 column units: one workgroup each
      const x = random(M * K, 1);
      const [wq, wk, wv] = [random(32 * K, 2), random(16 * K, 3), random(16 * K, 4)];
      const r = gpu()
        .set('A', x)
        .set('B_q', wq)
        .set('B_k', wk)
        .set('B_v', wv)
        .set('step', packStep({ offset, kv_len: offset + M }));
      r.clear('C_q', 'C_k', 'C_v');
      await r.run(k);
      expectClose(await r.read('C_q'), rope(ref(x, wq, null, M, 32), M, 2, 16, 10000, offset), TOL, 'q');
      const kc = await r.read('C_k');
      const vc = await r.read('C_v');
      expectClose(kc.subarray(16 * offset, 16 * (offset + M)), rope(ref(x, wk, null, M, 16), M, 1, 16, 10000, offset), TOL, 'k rows');
      expectClose(vc.subarray(16 * offset, 16 * (offset + M)), ref(x, wv, null, M, 16), TOL, 'v rows');
      // Cache rows other than offset..offset+M-1 are left as they were (zero here).
      expect([...kc.subarray(0, 16 * offset), ...kc.subarray(16 * (offset + M), 16 * ctx)].every((v) => v === 0)).toBe(true);
      expect([...vc.subarray(0, 16 * offset), ...vc.subarray(16 * (offset + M), 16 * ctx)].every((v) => v === 0)).toBe(true);
    },
  );

  it('a plain part with bias and GELU equals the cpu matmul bit for bit', async () => {
    const M = 3;
    const N = 24;
    const rows = generateRowsMatmul({ M, K, subgroupMinSize: 8, name: 'one', parts: [{ name: '', N, bias: true, activation: 'gelu' }] });
    const mm = generateMatmul({ M, N, K, variant: 'nt', bias: true, activation: 'gelu', tuning: 'cpu', subgroupMinSize: 8, name: 'mm' });
    const x = random(M * K, 5);
    const w = random(N * K, 6);
    const b = random(N, 7);
    const r = gpu().set('A', x).set('B', w).set('bias', b);
    r.clear('C');
    await r.run(rows);
    const got = (await r.read('C')).slice(0, M * N);
    r.clear('C');
    await r.run(mm);
    const want = (await r.read('C')).slice(0, M * N);
    expect(got).toEqual(want);
    expectClose(
      got,
      Float64Array.from(ref(x, w, b, M, N), (v) => ACTIVATIONS.gelu.f(v)),
      { abs: 1e-6, rel: 1e-6 },
      'gelu',
    );
  });

  it('a GLU part (gate and up weights in one loop) equals the gate matmul then the gated up matmul, bit for bit', async () => {
    const M = 1;
    const N = 16;
    const rows = generateRowsMatmul({
      M,
      K,
      subgroupMinSize: 8,
      name: 'glu',
      parts: [{ name: '', N, bias: true, dual: { fn: 'silu', bias: true } }],
    });
    const gateMm = generateMatmul({ M, N, K, variant: 'nt', bias: true, tuning: 'cpu', subgroupMinSize: 8, name: 'gate_mm' });
    const upMm = generateMatmul({
      M,
      N,
      K,
      variant: 'nt',
      bias: true,
      gate: { fn: 'silu' },
      tuning: 'cpu',
      subgroupMinSize: 8,
      name: 'up_mm',
    });
    const x = random(M * K, 8);
    const [wu, wg, bu, bg] = [random(N * K, 9), random(N * K, 10), random(N, 11), random(N, 12)];
    const r = gpu().set('A', x).set('B', wu).set('bias', bu).set('Bg', wg).set('biasg', bg);
    r.clear('C');
    await r.run(rows);
    const got = (await r.read('C')).slice(0, N);
    // The unfused path: the gate projection into a buffer, then the up projection gated by it.
    r.set('B', wg).set('bias', bg).clear('C');
    await r.run(gateMm);
    const gate = (await r.read('C')).slice(0, N);
    r.set('B', wu).set('bias', bu).set('gate', gate).clear('C');
    await r.run(upMm);
    expect(got).toEqual((await r.read('C')).slice(0, N));
    const up = ref(x, wu, bu, M, N);
    const g = ref(x, wg, bg, M, N);
    expectClose(
      got,
      Float64Array.from(up, (u, i) => ACTIVATIONS.silu.f(g[i]!) * u),
      { abs: 1e-6, rel: 1e-6 },
      'glu',
    );
  });

  it('says what it cannot emit, so the plan falls back to separate kernels', () => {
    const part = { name: 'q', N: 32, bias: true };
    expect(rowsUnsupported({ M: 9, K, subgroupMinSize: 8, name: 'x', parts: [part] })).toMatch(/M 9/);
    expect(rowsUnsupported({ M: 1, K: 42, subgroupMinSize: 8, name: 'x', parts: [part] })).toMatch(/K 42/);
    expect(rowsUnsupported({ M: 1, K, subgroupMinSize: 8, name: 'x', parts: [{ ...part, N: 30 }] })).toMatch(/N 30/);
    // A + 3 × (weight, bias, output) = 10 storage buffers.
    const three = [part, { ...part, name: 'k' }, { ...part, name: 'v' }];
    expect(rowsUnsupported({ M: 1, K, subgroupMinSize: 8, name: 'x', parts: three })).toMatch(/storage buffers/);
    expect(
      rowsUnsupported({ M: 1, K, subgroupMinSize: 8, name: 'x', parts: [{ ...part, rope: { heads: 2, head_dim: 12, base: 1e4 } }] }),
    ).toMatch(/RoPE/);
  });
});
