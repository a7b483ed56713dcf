/**
 * The decode plan's dispatches (issue 13's speed target): with the 'cpu' tuning, each attention
 * layer's Q/K/V projections (and RoPE) are one rows kernel that writes K and V into the cache,
 * so a decode step has no cache_write copy (one compute pass), and a GLU's gate and up
 * projections are one kernel. Training and the full-context prefill keep separate kernels and
 * the copies; the 'gpu' tuning keeps its own matmuls. (Numbers: what the plans hold today.)
 */
import { describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import type { KernelPlan } from '../../runtime/plan-types.js';

function tally(p: KernelPlan): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of p.steps) {
    const k = s.kind === 'kernel' ? p.kernels[s.kernel]!.name : s.kind;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

const plans = (spec: string, tuning: 'cpu' | 'gpu') => {
  const r = compileGpu(spec, { tuning, subgroupMinSize: 8 });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.models[0]!.data.plans;
};

describe('decode plans: fused projections, KV cache written by the projection kernel', () => {
  it('tiny-llama: one Q/K/V + RoPE kernel and one gate+up kernel per layer, no copies', () => {
    const { decode, prefill } = plans('specs/tiny-llama.model', 'cpu');
    expect(tally(decode)).toEqual({
      embed: 1,
      residual_norm: 9,
      qkv_1x128_rope: 4,
      attention: 4,
      linear_1x128x128: 4,
      linear_1x352x128_silu_glu: 4,
      linear_1x128x352: 4,
      linear_1x256x128: 1,
      sample: 1,
    });
    const qkv = decode.steps.find((s) => s.kind === 'kernel' && decode.kernels[s.kernel]!.name === 'qkv_1x128_rope')!;
    expect(qkv.kind === 'kernel' && [qkv.bind.C_k, qkv.bind.C_v]).toEqual(['cache.0.k', 'cache.0.v']);
    // The full-context prefill: separate projections, RoPE kernels and cache copies, as before.
    expect(tally(prefill)).toMatchObject({ rope: 8, cache_write: 8, linear_128x64x128: 8 });
  });

  it('char-gpt (biased Q/K/V): two projection kernels per layer within 8 storage buffers, no copies', () => {
    const { decode } = plans('specs/char-gpt.model', 'cpu');
    const t = tally(decode);
    expect(t).toMatchObject({ qk_1x128: 4, v_1x128: 4, attention: 4 });
    expect(t.cache_write).toBeUndefined();
    expect(decode.steps).toHaveLength(36);
    for (const k of decode.kernels) expect(k.bindings.filter((b) => b.access !== 'uniform').length).toBeLessThanOrEqual(8);
  });

  it('the gpu tuning keeps its matmuls and the cache copies', () => {
    const { decode } = plans('specs/tiny-llama.model', 'gpu');
    expect(tally(decode)).toMatchObject({ cache_write: 8, rope: 8 });
  });
});
