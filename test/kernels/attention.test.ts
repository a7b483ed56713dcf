/**
 * The attention kernel on the real adapter against a float64 reference that builds every
 * score and a plain softmax. q is uniform(-4, 4) (scores of a few units, so the softmax is
 * far from uniform), k and v uniform(-1, 1); rows of K/V past kv_len hold garbage that must
 * be masked. Tolerance |err| <= 2e-6 + 2e-6·|ref| on out and lse (f32 scores, exp and
 * accumulation over at most 16 keys; measured <= ~3e-7).
 * Both emitters (simple, and subgroup where the adapter has subgroups) run every case.
 * Decode: running one query at a time over a cache that grows by copy_rows equals prefill.
 */
import { describe, expect, it } from 'vitest';
import { generateAttention, type AttentionSpec } from '../../compiler/codegen/wgsl/kernels/attention.js';
import { alibiSlopes } from '../../compiler/codegen/wgsl/kernels/alibi.js';
import { generateCopyRows } from '../../compiler/codegen/wgsl/kernels/copy-rows.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 2e-6, rel: 2e-6 };

/** The ALiBi paper's reference code (get_slopes), transcribed. */
function paperSlopes(n: number): number[] {
  const pow2 = (m: number) => {
    const start = 2 ** -(2 ** -(Math.log2(m) - 3));
    return Array.from({ length: m }, (_, i) => start * start ** i);
  };
  if (Math.log2(n) % 1 === 0) return pow2(n);
  const c = 2 ** Math.floor(Math.log2(n));
  return [
    ...pow2(c),
    ...paperSlopes(2 * c)
      .filter((_, i) => i % 2 === 0)
      .slice(0, n - c),
  ];
}

interface Inputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}

function inputs(s: AttentionSpec, seed: number): Inputs {
  return {
    q: random(s.B * s.Tq * s.heads * s.head_dim, seed, -4, 4),
    k: random(s.B * s.Tk * s.kv_heads * s.head_dim, seed + 1),
    v: random(s.B * s.Tk * s.kv_heads * s.head_dim, seed + 2),
  };
}

function reference(s: AttentionSpec, x: Inputs, offset: number, kvLen: number): { out: Float64Array; lse: Float64Array } {
  const { B, Tq, Tk, heads: H, kv_heads: Kh, head_dim: D } = s;
  const slopes = s.alibi ? paperSlopes(H) : null;
  const out = new Float64Array(B * Tq * H * D),
    lse = new Float64Array(B * H * Tq);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor((h * Kh) / H);
      for (let t = 0; t < Tq; t++) {
        const i = offset + t;
        const scores: [number, number][] = [];
        for (let j = 0; j < Math.min(kvLen, Tk); j++) {
          if (s.causal && j > i) continue;
          if (s.window && j <= i - s.window) continue;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += x.q[((b * Tq + t) * H + h) * D + d]! * x.k[((b * Tk + j) * Kh + kvh) * D + d]!;
          scores.push([j, dot / Math.sqrt(D) - (slopes ? slopes[h]! * Math.abs(i - j) : 0)]);
        }
        const m = Math.max(...scores.map(([, v]) => v));
        const z = scores.reduce((acc, [, v]) => acc + Math.exp(v - m), 0);
        lse[(b * H + h) * Tq + t] = m + Math.log(z);
        for (const [j, v] of scores) {
          const p = Math.exp(v - m) / z;
          for (let d = 0; d < D; d++) out[((b * Tq + t) * H + h) * D + d]! += p * x.v[((b * Tk + j) * Kh + kvh) * D + d]!;
        }
      }
    }
  }
  return { out, lse };
}

/** The emitters to check: always the simple one, and the subgroup one where the adapter has subgroups. */
function variants(): Partial<AttentionSpec>[] {
  const sg = gpu().gpu.subgroupMinSize;
  return [{ variant: 'simple' }, ...(sg >= 4 && sg <= 64 ? [{ variant: 'subgroup' as const, subgroupMinSize: sg }] : [])];
}

async function check(spec: AttentionSpec, offset: number, kvLen: number, seed: number): Promise<void> {
  const x = inputs(spec, seed);
  const want = reference(spec, x, offset, kvLen);
  for (const v of variants()) {
    const s = { ...spec, ...v };
    const r = gpu()
      .clear('out', 'lse')
      .set('q', x.q)
      .set('k', x.k)
      .set('v', x.v)
      .set('step', packStep({ offset, kv_len: kvLen }));
    await r.run(generateAttention(s));
    const what = `${JSON.stringify(s)} offset ${offset} kv_len ${kvLen}`;
    expectClose(await r.read('out'), want.out, TOL, `${what}: out`);
    if (s.lse) expectClose(await r.read('lse'), want.lse, TOL, `${what}: lse`);
  }
}

describe('attention matches the float64 reference', () => {
  it('causal prefill, GQA H = 6 / Kh = 2, D = 64, B = 2, T = 13, with lse', async () => {
    await check({ B: 2, Tq: 13, Tk: 13, heads: 6, kv_heads: 2, head_dim: 64, causal: true, lse: true }, 0, 13, 1);
  });

  it('MQA (Kh = 1), D = 32, sliding window 4 < T = 10, workgroups of 8', async () => {
    await check({ B: 1, Tq: 10, Tk: 10, heads: 6, kv_heads: 1, head_dim: 32, causal: true, window: 4, tuning: 'cpu' }, 0, 10, 2);
  });

  it('ALiBi with 6 heads (the interpolated slopes), causal, D = 32', async () => {
    await check({ B: 1, Tq: 9, Tk: 9, heads: 6, kv_heads: 6, head_dim: 32, causal: true, alibi: true }, 0, 9, 3);
  });

  it('non-causal with ALiBi, odd head_dim 6 (scalar path), kv_len 9 of capacity 12, key blocks of 4', async () => {
    await check({ B: 2, Tq: 5, Tk: 12, heads: 4, kv_heads: 2, head_dim: 6, causal: false, alibi: true, keyBlock: 4 }, 0, 9, 4);
  });

  it('chunked prefill: 4 queries at offset 5 over kv_len 9 of a 16-row cache', async () => {
    await check({ B: 1, Tq: 4, Tk: 16, heads: 4, kv_heads: 4, head_dim: 32, causal: true, lse: true }, 5, 9, 5);
  });
});

describe('decode over a growing KV cache equals prefill', () => {
  it('H = 6, Kh = 2, D = 32, B = 2: 8 steps of T = 1, cache appended with copy_rows', async () => {
    const B = 2,
      T = 8,
      cap = 12,
      H = 6,
      Kh = 2,
      D = 32;
    // Prefill as a training step would run it (the subgroup emitter where there are subgroups), decode with the simple one.
    const prefill: AttentionSpec = { B, Tq: T, Tk: cap, heads: H, kv_heads: Kh, head_dim: D, causal: true, ...variants().at(-1) };
    const decode: AttentionSpec = { ...prefill, Tq: 1, variant: 'simple' };
    const x = inputs(prefill, 6); // k, v: (B, cap, Kh·D) with rows >= T garbage
    const r = gpu()
      .clear('out', 'k', 'v')
      .set('q', x.q)
      .set('k', x.k)
      .set('v', x.v)
      .set('step', packStep({ offset: 0, kv_len: T }));
    await r.run(generateAttention(prefill));
    const full = await r.read('out');
    expectClose(full, reference(prefill, x, 0, T).out, TOL, 'prefill');

    const append = generateCopyRows({ B, T: 1, width: Kh * D, capacity: cap });
    const appendK = {
      ...append,
      bindings: append.bindings.map((b) => (b.name === 'dst' ? { ...b, name: 'k' } : b.name === 'src' ? { ...b, name: 'k_new' } : b)),
    };
    const appendV = {
      ...append,
      bindings: append.bindings.map((b) => (b.name === 'dst' ? { ...b, name: 'v' } : b.name === 'src' ? { ...b, name: 'v_new' } : b)),
    };
    const row = (a: Float32Array, rows: number, width: number, t: number) =>
      Float32Array.from({ length: B * width }, (_, i) => a[(Math.floor(i / width) * rows + t) * width + (i % width)]!);
    r.clear('k', 'v', 'out');
    const stepped = new Float32Array(B * T * H * D);
    for (let t = 0; t < T; t++) {
      r.set('k_new', row(x.k, cap, Kh * D, t))
        .set('v_new', row(x.v, cap, Kh * D, t))
        .set('q', row(x.q, T, H * D, t));
      r.set('step', packStep({ offset: t, kv_len: t + 1 }));
      await r.run([appendK, appendV, generateAttention(decode)]);
      const o = await r.read('out');
      for (let b = 0; b < B; b++) stepped.set(o.subarray(b * H * D, (b + 1) * H * D), (b * T + t) * H * D);
    }
    expectClose(stepped, full, { abs: 1e-7, rel: 1e-6 }, 'decode vs prefill');
  });
});

describe('attention kernel contract', () => {
  it('ALiBi slopes follow the paper: powers of two and the interpolation rule', () => {
    expect(alibiSlopes(8)).toEqual([1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]);
    expect(alibiSlopes(6)).toEqual([2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3]);
    for (const n of [1, 3, 5, 12, 40]) {
      alibiSlopes(n).forEach((x, h) => expect(x / paperSlopes(n)[h]!).toBeCloseTo(1, 14));
    }
  });

  it('binds q, k, v, out (lse) and the Step uniform; rejects what it cannot run', () => {
    const k = generateAttention({ B: 1, Tq: 4, Tk: 8, heads: 4, kv_heads: 2, head_dim: 32, causal: true, lse: true });
    expect(k.bindings.map((b) => `${b.binding}:${b.name}:${b.access}`)).toEqual([
      '0:q:read',
      '1:k:read',
      '2:v:read',
      '3:out:read_write',
      '4:lse:read_write',
      '5:step:uniform',
    ]);
    expect(k.code.split('\n')[0]).toMatch(/^\/\/ generated by mspec — attention: fuses attention; shapes q \[1, 4, 128\], k \[1, 8, 64\]/);
    const base = { B: 1, Tq: 1, Tk: 1, heads: 4, kv_heads: 2, head_dim: 32, causal: true };
    expect(() => generateAttention({ ...base, kv_heads: 3 })).toThrow(/multiple of kv_heads/);
    expect(() => generateAttention({ ...base, head_dim: 320 })).toThrow(/over 256/);
    // A bidirectional window is |i − j| < w (as the interpreter); test/kernels/attention-encoder.test.ts runs it.
    expect(generateAttention({ ...base, causal: false, window: 4 }).code).toContain('min(kv_len, pos + 4u)');
  });
});
