/**
 * The attention backward kernels (pre: D = rowsum(dO·O); dq; dk/dv) on the real adapter. The
 * forward kernel (lse: true) makes O and lse on the GPU, then the three backward kernels run
 * in the same submit; dq, dk and dv are compared with a float64 reference: the forward with
 * every score and a plain softmax, and its analytic backward (dP = dO·Vᵀ, dS = P∘(dP − D),
 * dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dO, GQA groups summed). The reference itself is
 * checked against central finite differences of L = Σ O·R (R = dO) on a tiny shape.
 * q uniform(-3, 3), k, v, dO uniform(-1, 1). Tolerance |err| <= 4e-6 + 2e-5·|ref| on dq, dk, dv
 * (f32 recomputation of p from the f32 lse, sums over at most 13 keys × 6 heads).
 * Both emitters (simple, and subgroup where the adapter has subgroups) run every case.
 */
import { describe, expect, it } from 'vitest';
import { generateAttention } from '../../compiler/codegen/wgsl/kernels/attention.js';
import { alibiSlopes } from '../../compiler/codegen/wgsl/kernels/alibi.js';
import {
  generateAttentionBackwardDkv,
  generateAttentionBackwardDq,
  generateAttentionBackwardPre,
  type AttentionBackwardSpec,
} from '../../compiler/codegen/wgsl/kernels/backward/attention-bwd.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 4e-6, rel: 2e-5 };

type Arr = ArrayLike<number>;
interface Inputs {
  q: Arr;
  k: Arr;
  v: Arr;
  dout: Arr;
}
interface Grads {
  out: Float64Array;
  lse: Float64Array;
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

function inputs(s: AttentionBackwardSpec, seed: number): { q: Float32Array; k: Float32Array; v: Float32Array; dout: Float32Array } {
  const { B, T, heads: H, kv_heads: Kh, head_dim: D } = s;
  return {
    q: random(B * T * H * D, seed, -3, 3),
    k: random(B * T * Kh * D, seed + 1),
    v: random(B * T * Kh * D, seed + 2),
    dout: random(B * T * H * D, seed + 3),
  };
}

/** Float64 forward (as the forward kernel: bias −slope·|i − j|) and its analytic backward. */
function reference(s: AttentionBackwardSpec, x: Inputs): Grads {
  const { B, T, heads: H, kv_heads: Kh, head_dim: D } = s;
  const scale = s.scale ?? 1 / Math.sqrt(D);
  const slopes = s.alibi ? alibiSlopes(H) : null;
  const out = new Float64Array(B * T * H * D),
    lse = new Float64Array(B * H * T);
  const dq = new Float64Array(B * T * H * D),
    dk = new Float64Array(B * T * Kh * D),
    dv = new Float64Array(B * T * Kh * D);
  const qi = (b: number, i: number, h: number) => ((b * T + i) * H + h) * D;
  const ki = (b: number, j: number, g: number) => ((b * T + j) * Kh + g) * D;
  const see = (i: number, j: number) => !(s.causal && j > i) && !(s.window && j <= i - s.window);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor((h * Kh) / H);
      for (let i = 0; i < T; i++) {
        const js: number[] = [],
          sc: number[] = [];
        for (let j = 0; j < T; j++) {
          if (!see(i, j)) continue;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += x.q[qi(b, i, h) + d]! * x.k[ki(b, j, g) + d]!;
          js.push(j);
          sc.push(scale * dot - (slopes ? slopes[h]! * Math.abs(i - j) : 0));
        }
        const m = Math.max(...sc);
        const z = sc.reduce((a, v) => a + Math.exp(v - m), 0);
        lse[(b * H + h) * T + i] = m + Math.log(z);
        const p = sc.map((v) => Math.exp(v - m) / z);
        js.forEach((j, n) => {
          for (let d = 0; d < D; d++) out[qi(b, i, h) + d]! += p[n]! * x.v[ki(b, j, g) + d]!;
        });
        let Di = 0;
        for (let d = 0; d < D; d++) Di += x.dout[qi(b, i, h) + d]! * out[qi(b, i, h) + d]!;
        js.forEach((j, n) => {
          let dp = 0;
          for (let d = 0; d < D; d++) dp += x.dout[qi(b, i, h) + d]! * x.v[ki(b, j, g) + d]!;
          const ds = p[n]! * (dp - Di);
          for (let d = 0; d < D; d++) {
            dq[qi(b, i, h) + d]! += scale * ds * x.k[ki(b, j, g) + d]!;
            dk[ki(b, j, g) + d]! += scale * ds * x.q[qi(b, i, h) + d]!;
            dv[ki(b, j, g) + d]! += p[n]! * x.dout[qi(b, i, h) + d]!;
          }
        });
      }
    }
  }
  return { out, lse, dq, dk, dv };
}

/** The emitters to check: always the simple one, and the subgroup one where the adapter has subgroups. */
function variants(): Partial<AttentionBackwardSpec>[] {
  const sg = gpu().gpu.subgroupMinSize;
  return [{ variant: 'simple', tuning: 'cpu' }, ...(sg >= 4 && sg <= 64 ? [{ variant: 'subgroup' as const, subgroupMinSize: sg }] : [])];
}

async function check(spec: AttentionBackwardSpec, seed: number): Promise<void> {
  const x = inputs(spec, seed);
  const want = reference(spec, x);
  const { B, T, heads, kv_heads, head_dim, causal, window, alibi, scale } = spec;
  const forward = generateAttention({
    B,
    Tq: T,
    Tk: T,
    heads,
    kv_heads,
    head_dim,
    causal,
    window,
    alibi,
    scale,
    lse: true,
    variant: 'simple',
  });
  const pre = generateAttentionBackwardPre({ B, T, heads, head_dim });
  for (const v of variants()) {
    const s = { ...spec, ...v };
    const r = gpu()
      .clear('out', 'lse', 'dterm', 'dq', 'dk', 'dv')
      .set('q', x.q)
      .set('k', x.k)
      .set('v', x.v)
      .set('dout', x.dout)
      .set('step', packStep({ offset: 0, kv_len: T }));
    await r.run([forward, pre, generateAttentionBackwardDq(s), generateAttentionBackwardDkv(s)]);
    const what = JSON.stringify(s);
    expectClose(await r.read('dq'), want.dq, TOL, `${what}: dq`);
    expectClose(await r.read('dk'), want.dk, TOL, `${what}: dk`);
    expectClose(await r.read('dv'), want.dv, TOL, `${what}: dv`);
  }
}

describe('attention backward matches the float64 reference', () => {
  it('MHA, causal, D = 32, B = 2, T = 13', async () => {
    await check({ B: 2, T: 13, heads: 4, kv_heads: 4, head_dim: 32, causal: true }, 1);
  });

  it('GQA H = 6 / Kh = 2, causal, D = 32, T = 13', async () => {
    await check({ B: 1, T: 13, heads: 6, kv_heads: 2, head_dim: 32, causal: true }, 2);
  });

  it('MQA (Kh = 1), causal with a sliding window 4 < T = 13, D = 32', async () => {
    await check({ B: 1, T: 13, heads: 4, kv_heads: 1, head_dim: 32, causal: true, window: 4 }, 3);
  });

  it('non-causal, GQA H = 4 / Kh = 2, odd D = 6 (scalar path), B = 2, T = 13, scale 0.3', async () => {
    await check({ B: 2, T: 13, heads: 4, kv_heads: 2, head_dim: 6, causal: false, scale: 0.3 }, 4);
  });

  it('ALiBi with 6 heads, causal, GQA Kh = 3, D = 36 (9 vec4 units: more than a subgroup of 8 shares at once), T = 13', async () => {
    await check({ B: 1, T: 13, heads: 6, kv_heads: 3, head_dim: 36, causal: true, alibi: true }, 5);
  });

  it('ALiBi non-causal, MQA, D = 6, T = 13', async () => {
    await check({ B: 1, T: 13, heads: 4, kv_heads: 1, head_dim: 6, causal: false, alibi: true }, 6);
  });

  it('T = 1 (every gradient but dv is zero), causal and non-causal, D = 32', async () => {
    await check({ B: 2, T: 1, heads: 4, kv_heads: 2, head_dim: 32, causal: true }, 7);
    await check({ B: 2, T: 1, heads: 4, kv_heads: 2, head_dim: 32, causal: false }, 8);
  });
});

describe('the float64 reference is the gradient of L = Σ O·R', () => {
  it('central finite differences on B = 1, T = 4, H = 4, Kh = 2, D = 3 (causal + window 2 + ALiBi; non-causal)', () => {
    for (const base of [
      { B: 1, T: 4, heads: 4, kv_heads: 2, head_dim: 3, causal: true, window: 2, alibi: true },
      { B: 1, T: 4, heads: 4, kv_heads: 2, head_dim: 3, causal: false, scale: 0.7 },
    ] satisfies AttentionBackwardSpec[]) {
      const f = inputs(base, 9);
      const x = { q: Float64Array.from(f.q), k: Float64Array.from(f.k), v: Float64Array.from(f.v), dout: Float64Array.from(f.dout) };
      const g = reference(base, x);
      const loss = () => reference(base, x).out.reduce((a, o, n) => a + o * x.dout[n]!, 0);
      const eps = 1e-5;
      for (const [name, grad] of [
        ['q', g.dq],
        ['k', g.dk],
        ['v', g.dv],
      ] as const) {
        const a = x[name];
        for (let n = 0; n < a.length; n++) {
          const keep = a[n]!;
          a[n] = keep + eps;
          const up = loss();
          a[n] = keep - eps;
          const down = loss();
          a[n] = keep;
          expect(Math.abs((up - down) / (2 * eps) - grad[n]!), `${name}[${n}]`).toBeLessThan(1e-8);
        }
      }
    }
  });
});

describe('attention backward kernel contract', () => {
  it('binding names and order; header; rejects what it cannot run', () => {
    const base: AttentionBackwardSpec = { B: 1, T: 8, heads: 4, kv_heads: 2, head_dim: 32, causal: true };
    const names = (k: { bindings: { binding: number; name: string; access: string }[] }) =>
      k.bindings.map((b) => `${b.binding}:${b.name}:${b.access}`);
    expect(names(generateAttentionBackwardPre({ B: 1, T: 8, heads: 4, head_dim: 32 }))).toEqual([
      '0:out:read',
      '1:dout:read',
      '2:dterm:read_write',
    ]);
    const io = ['0:q:read', '1:k:read', '2:v:read', '3:dout:read', '4:lse:read', '5:dterm:read'];
    for (const variant of ['simple', 'subgroup'] as const) {
      const s = { ...base, variant, subgroupMinSize: 8 };
      const dq = generateAttentionBackwardDq(s),
        dkv = generateAttentionBackwardDkv(s);
      expect(names(dq)).toEqual([...io, '6:dq:read_write']);
      expect(names(dkv)).toEqual([...io, '6:dk:read_write', '7:dv:read_write']);
      expect(dq.fuses).toEqual(['attention_backward']);
      expect(dq.features).toEqual(variant === 'subgroup' ? ['subgroups'] : []);
      expect(dq.code.split('\n')[0]).toMatch(
        /^\/\/ generated by mspec — attention_bwd_dq: fuses attention_backward; shapes q \[1, 8, 128\], k \[1, 8, 64\], v \[1, 8, 64\]; FLOPs \d+; bytes \d+$/,
      );
      expect(dkv.code.split('\n')[0]).toMatch(/^\/\/ generated by mspec — attention_bwd_dkv: fuses attention_backward;/);
      expect(dkv.code).not.toMatch(/atomic|workgroupBarrier|var<workgroup>/);
    }
    // Subgroups only when asked and T covers a subgroup.
    expect(generateAttentionBackwardDq({ ...base, subgroupMinSize: 8 }).features).toEqual(['subgroups']);
    expect(generateAttentionBackwardDq({ ...base, subgroupMinSize: 16 }).features).toEqual([]);
    expect(generateAttentionBackwardDq(base).features).toEqual([]);
    expect(() => generateAttentionBackwardDq({ ...base, kv_heads: 3 })).toThrow(/multiple of kv_heads/);
    expect(() => generateAttentionBackwardDkv({ ...base, head_dim: 320 })).toThrow(/over 256/);
    // A bidirectional window is |i − j| < w (as the interpreter); test/kernels/attention-encoder-backward.test.ts runs it.
    expect(generateAttentionBackwardDkv({ ...base, causal: false, window: 4 }).code).toContain('j + 4u');
    expect(() => generateAttentionBackwardDq({ ...base, variant: 'subgroup' })).toThrow(/subgroupMinSize/);
  });
});
