/**
 * Bidirectional ALiBi: the attention kernels (forward and the three backward kernels) against
 * the CPU interpreter, which is the definition — bias −slope_h·|i − j|, symmetric in the
 * distance (Press et al. §3 for encoders; BLOOM's causal slope·j is the same up to a per-row
 * constant). A kernel that biases by −slope_h·(i − j) favours the keys after the query
 * (its bias grows with j), which this catches: with slopes up to 1/4 over 11 keys the
 * probabilities move by O(1). Causal ALiBi cannot tell the two apart (j ≤ i), so only
 * non-causal cases are here. Tolerance as test/kernels/attention.test.ts and
 * backward-attention.test.ts (f32 scores and exp over at most 11 keys).
 */
import { describe, it } from 'vitest';
import { generateAttention, type AttentionSpec } from '../../compiler/codegen/wgsl/kernels/attention.js';
import {
  generateAttentionBackwardDkv,
  generateAttentionBackwardDq,
  generateAttentionBackwardPre,
} from '../../compiler/codegen/wgsl/kernels/backward/attention-bwd.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import type { AttentionAttrs } from '../../compiler/ir/ops.js';
import { attention } from '../../compiler/ir/interpret/attention.js';
import { attentionBackward, attentionSave } from '../../compiler/ir/interpret/backward-attention.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();

interface Case {
  B: number;
  T: number;
  heads: number;
  kv_heads: number;
  head_dim: number;
}

const CASES: Case[] = [
  { B: 2, T: 11, heads: 4, kv_heads: 2, head_dim: 8 }, // vec4 path
  { B: 1, T: 9, heads: 6, kv_heads: 1, head_dim: 6 }, // interpolated slopes, MQA, scalar path
];

function attrs(c: Case): AttentionAttrs {
  return {
    heads: c.heads,
    kv_heads: c.kv_heads,
    head_dim: c.head_dim,
    causal: false,
    window: null,
    positions: 'alibi',
    buckets: 0,
    max_distance: 0,
    dropout: 0,
    cross: false,
  };
}

function tensors(c: Case, seed: number) {
  const { B, T, heads: H, kv_heads: K, head_dim: D } = c;
  const q = random(B * T * H * D, seed, -2, 2),
    k = random(B * T * K * D, seed + 1),
    v = random(B * T * K * D, seed + 2);
  const dout = random(B * T * H * D, seed + 3);
  return { q, k, v, dout, shapes: { q: [B, T, H * D], kv: [B, T, K * D] } };
}

/** The emitters the adapter can run: simple always, subgroup where it has subgroups. */
function emitters(): Partial<AttentionSpec>[] {
  const sg = gpu().gpu.subgroupMinSize;
  return [{ variant: 'simple', tuning: 'cpu' }, ...(sg >= 4 && sg <= 64 ? [{ variant: 'subgroup' as const, subgroupMinSize: sg }] : [])];
}

describe('non-causal ALiBi: kernels equal the interpreter (bias −slope·|i − j|)', () => {
  it.each(CASES)(
    'forward and backward, %o',
    async (c) => {
      const x = tensors(c, 11 + c.heads);
      const a = attrs(c);
      const ins = [
        { shape: x.shapes.q, data: x.q },
        { shape: x.shapes.kv, data: x.k },
        { shape: x.shapes.kv, data: x.v },
      ];
      const out = attention(ins, a);
      const [lse] = attentionSave(ins, out, a);
      const [dq, dk, dv] = attentionBackward({
        inputs: ins,
        output: out,
        extra: [lse!],
        dout: { shape: x.shapes.q, data: x.dout },
        attrs: a,
      });
      const { B, T, heads, kv_heads, head_dim } = c;
      for (const e of emitters()) {
        const fwd = generateAttention({ B, Tq: T, Tk: T, heads, kv_heads, head_dim, causal: false, alibi: true, lse: true, ...e });
        const bwd = { B, T, heads, kv_heads, head_dim, causal: false, alibi: true, ...e };
        const r = gpu()
          .clear('out', 'lse', 'dterm', 'dq', 'dk', 'dv')
          .set('q', x.q)
          .set('k', x.k)
          .set('v', x.v)
          .set('dout', x.dout)
          .set('step', packStep({ offset: 0, kv_len: T }));
        await r.run([
          fwd,
          generateAttentionBackwardPre({ B, T, heads, head_dim }),
          generateAttentionBackwardDq(bwd),
          generateAttentionBackwardDkv(bwd),
        ]);
        const what = `${JSON.stringify(c)} ${JSON.stringify(e)}`;
        expectClose(await r.read('out'), out.data, { abs: 2e-6, rel: 2e-6 }, `${what}: out`);
        expectClose(await r.read('lse'), lse!.data, { abs: 2e-6, rel: 2e-6 }, `${what}: lse`);
        expectClose(await r.read('dq'), dq!.data, { abs: 4e-6, rel: 2e-5 }, `${what}: dq`);
        expectClose(await r.read('dk'), dk!.data, { abs: 4e-6, rel: 2e-5 }, `${what}: dk`);
        expectClose(await r.read('dv'), dv!.data, { abs: 4e-6, rel: 2e-5 }, `${what}: dv`);
      }
    },
    300_000,
  ); // ALiBi kernels have taken lavapipe 10-90 s to build on a loaded machine
});
