/**
 * The attention backward kernels for encoders and encoder–decoders on the real adapter: the
 * forward kernel (lse: true) makes O and lse, then pre (D = rowsum(dO·O); with a relative
 * bias packed with lse into stats), dq (and, with a T5
 * relative bias, each row's Σ_j dS per bucket), dk/dv and the table gradient run in one
 * submit; dq, dk, dv and d table are compared with the CPU interpreter's vector–Jacobian
 * product (compiler/ir/interpret/backward-attention.ts, float64 sums; its relative-bias and
 * unscaled backward are checked by finite differences in test/ir/vjp.test.ts). Cases: see
 * attention-encoder-cases.ts (bidirectional, windows, symmetric ALiBi, cross-attention with
 * S ≠ T, relative bias in both bucket modes beyond max_distance, unscaled). Both emitters and
 * both tunings run every case. dO uniform(-1, 1).
 * Tolerance |err| <= 1e-6 + 1e-5·|ref| (p recomputed in f32 from the f32 lse; the table sums
 * up to B·T·S ≈ 300 terms; on lavapipe the worst element used 23% of it).
 */
import { describe, expect, it } from 'vitest';
import { generateAttention } from '../../compiler/codegen/wgsl/kernels/attention.js';
import {
  generateAttentionBackwardDkv,
  generateAttentionBackwardDq,
  generateAttentionBackwardPre,
} from '../../compiler/codegen/wgsl/kernels/backward/attention-bwd.js';
import { generateRelativeBiasGrad } from '../../compiler/codegen/wgsl/kernels/backward/relative-bias-grad.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { applyVjp } from '../../compiler/ir/vjp.js';
import { attention } from '../../compiler/ir/interpret/attention.js';
import { attrsOf, CASES, emitters, inputsOf, kernelKnobs, keysOf, tensorsOf } from './attention-encoder-cases.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 1e-6, rel: 1e-5 };

describe('encoder / encoder–decoder attention backward matches the interpreter', () => {
  it.each(CASES.map((c, n) => [c.name, c, n] as const))('%s', async (_, c, n) => {
    const x = inputsOf(c, 70 + 5 * n);
    const ins = tensorsOf(c, x);
    const a = attrsOf(c);
    const out = attention(ins, a);
    const dout = random(out.data.length, 90 + n);
    const want = applyVjp('attention', a, ins, out, { shape: out.shape, data: dout });
    const S = keysOf(c);
    const knobs = kernelKnobs(c);
    for (const v of emitters(gpu().gpu.subgroupMinSize)) {
      const spec = { B: c.B, T: c.T, S, ...knobs, ...v };
      const r = gpu()
        .clear('out', 'lse', 'dterm', 'stats', 'dq', 'dk', 'dv', 'dbias', 'dtable')
        .set('q', x.q)
        .set('k', x.k)
        .set('v', x.v)
        .set('dout', dout);
      if (x.rel.length) r.set('rel', x.rel);
      r.set('step', packStep({ offset: 0, kv_len: S }));
      const kernels = [
        generateAttention({ B: c.B, Tq: c.T, Tk: S, ...knobs, lse: true, ...v }),
        generateAttentionBackwardPre({
          B: c.B,
          T: c.T,
          heads: c.heads,
          head_dim: c.head_dim,
          stats: knobs.relative !== null,
          ...(v.tuning ? { tuning: v.tuning } : {}),
        }),
        generateAttentionBackwardDq(spec),
        generateAttentionBackwardDkv(spec),
        ...(knobs.relative ? [generateRelativeBiasGrad({ B: c.B, T: c.T, heads: c.heads, buckets: knobs.relative.buckets })] : []),
      ];
      await r.run(kernels);
      const what = `${c.name} ${JSON.stringify(v)}`;
      expectClose(await r.read('dq'), want[0]!.data, TOL, `${what}: dq`);
      expectClose(await r.read('dk'), want[1]!.data, TOL, `${what}: dk`);
      expectClose(await r.read('dv'), want[2]!.data, TOL, `${what}: dv`);
      if (knobs.relative) expectClose(await r.read('dtable'), want[3]!.data, TOL, `${what}: d table`);
    }
  });
});

describe('encoder attention backward contract', () => {
  const base = { B: 1, T: 4, heads: 4, kv_heads: 2, head_dim: 8, causal: false };
  it('dq writes dbias (B, H, T, buckets) with a relative bias; the table gradient sums it per (bucket, head)', () => {
    const dq = generateAttentionBackwardDq({ ...base, relative: { buckets: 8, maxDistance: 16, bidirectional: true } });
    // WebGPU's 8 storage buffers: lse and D come packed as stats.
    expect(dq.bindings.map((b) => b.name)).toEqual(['q', 'k', 'v', 'dout', 'stats', 'rel', 'dq', 'dbias']);
    const dkv = generateAttentionBackwardDkv({ ...base, relative: { buckets: 8, maxDistance: 16, bidirectional: true } });
    expect(dkv.bindings.map((b) => b.name)).toEqual(['q', 'k', 'v', 'dout', 'stats', 'rel', 'dk', 'dv']);
    expect(dq.bindings.find((b) => b.name === 'dbias')!.bytes).toBe(4 * 1 * 4 * 4 * 8);
    const g = generateRelativeBiasGrad({ B: 2, T: 4, heads: 4, buckets: 8 });
    expect(g.bindings.map((b) => `${b.name}:${b.access}`)).toEqual(['dbias:read', 'dtable:read_write']);
  });
  it('self-attention has S = T; dropout is for self-attention', () => {
    expect(() => generateAttentionBackwardDq({ ...base, S: 6 })).toThrow(/S = T/);
    expect(() => generateAttentionBackwardDkv({ ...base, S: 6, cross: true, dropout: { p: 0.1, stream: 1 } })).toThrow(/dropout/);
  });
});
