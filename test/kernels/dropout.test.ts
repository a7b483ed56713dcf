/**
 * Dropout on the real adapter: the WGSL twin of the counter-based hash against the JS one
 * (bit for bit over many indices, seeds, steps and streams, edge values included), the dropout
 * kernel against the CPU interpreter's dropout op (bit for bit: the same mask and the same
 * f32 multiply), its keep rate over 2²⁰ elements, and attention with weight dropout (forward
 * and the three backward kernels, every emitter and tuning) against the interpreter's
 * attention and its VJP with the same randomness.
 */
import { describe, expect, it } from 'vitest';
import { generateAttention, type AttentionSpec } from '../../compiler/codegen/wgsl/kernels/attention.js';
import {
  generateAttentionBackwardDkv,
  generateAttentionBackwardDq,
  generateAttentionBackwardPre,
} from '../../compiler/codegen/wgsl/kernels/backward/attention-bwd.js';
import { assemble, Bindings, linear, u32 } from '../../compiler/codegen/wgsl/kernels/common.js';
import { generateDropout } from '../../compiler/codegen/wgsl/kernels/dropout.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { interpretOp, type Tensor } from '../../compiler/ir/interpret.js';
import type { AttentionAttrs } from '../../compiler/ir/ops.js';
import { applyVjp } from '../../compiler/ir/vjp.js';
import { COUNTER_RNG_WGSL, dropoutBits, dropoutKey } from '../../runtime/counter-rng.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();

/** A kernel writing dropout_bits(dropout_key(seed, step, stream), idx) for idx = i·mul + add (wrapping u32). */
function twinKernel(n: number, seed: number, step: number, stream: number, mul: number, add: number) {
  const b = new Bindings('twin').storage('bits', 'read_write', [n], 'u32');
  const lin = linear('twin', n);
  return assemble({
    entryPoint: 'twin',
    fuses: [],
    shapes: { bits: [n] },
    notes: ['test kernel: the WGSL counter-based hash'],
    bindings: b,
    launch: lin,
    flops: 0,
    prelude: COUNTER_RNG_WGSL,
    main: `@compute @workgroup_size(${lin.workgroupSize[0]})
fn twin(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${lin.wgsl}
  let key = dropout_key(${u32(seed)}, ${u32(step)}, ${u32(stream)});
  bits[i] = dropout_bits(key, i * ${u32(mul)} + ${u32(add)});
}`,
  });
}

describe('the counter-based hash: WGSL twin = JS', () => {
  it.each([
    // seed, step, stream, index multiplier, index offset (the multiplier spreads indices over all of u32)
    [0, 0, 0, 1, 0],
    [1337, 41, 0xdeadbeef, 1, 0],
    [0xffffffff, 0xffffffff, 0xffffffff, 2654435761, 12345],
    [7, 3, 2166136261, 4099, 0xfffff000],
  ])('seed %i, step %i, stream %i: 2^18 indices (×%i + %i) bit for bit', async (seed, step, stream, mul, add) => {
    const n = 1 << 18;
    const r = gpu().clear('bits');
    await r.run(twinKernel(n, seed, step, stream, mul, add));
    const got = new Uint32Array((await r.read('bits')).buffer);
    const key = dropoutKey(seed, step, stream);
    let mismatches = 0;
    let first = -1;
    for (let i = 0; i < n; i++) {
      const want = dropoutBits(key, (Math.imul(i, mul) + add) >>> 0);
      if (got[i] !== want) {
        mismatches++;
        if (first < 0) first = i;
      }
    }
    expect(mismatches, `first mismatch at ${first}`).toBe(0);
  });
});

const stepOf = (seed: number, step: number) => packStep({ offset: 0, kv_len: 0, rng_seed: seed, rng_step: step });

describe('the dropout kernel', () => {
  it.each([
    [[2, 5, 8], 0.1, 17, 3], // vec4 path
    [[3, 7], 0.5, 0xffffffff, 0], // scalar path
  ])('shape %j, p %f, stream %i: equals the interpreter bit for bit', async (shape, p, stream, step) => {
    const n = shape.reduce((a, d) => a * d, 1);
    const x = random(n, 5, -3, 3);
    const r = gpu().clear('out').set('x', x).set('step', stepOf(99, step));
    await r.run(generateDropout({ shape, p, stream }));
    const got = (await r.read('out')).subarray(0, n);
    const rng = { seed: 99, step };
    const want = interpretOp('dropout', [{ shape, data: x }], { p, stream }, { dtype: 'f32', shape }, { B: 1, T: 1, S: 1 }, rng);
    expect(Array.from(got)).toEqual(Array.from(want.data));
    // Something was dropped and something kept, kept values scaled by 1/(1 − p).
    const zeros = Array.from(got).filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(0);
    expect(zeros).toBeLessThan(n);
    const i = Array.from(got).findIndex((v) => v !== 0);
    expect(got[i]).toBe(Math.fround(x[i]! * Math.fround(1 / (1 - p))));
  });

  it.each([0.1, 0.5])('p %f: the keep rate over 2^20 elements is within 5σ of 1 − p; the backward reuses the mask', async (p) => {
    const n = 1 << 20;
    const shape = [n];
    const r = gpu().clear('out').set('x', new Float32Array(n).fill(1)).set('step', stepOf(3, 8));
    const k = generateDropout({ shape, p, stream: 21 });
    await r.run(k);
    const first = (await r.read('out')).slice(0, n);
    const kept = first.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);
    const sigma = Math.sqrt(n * p * (1 - p));
    expect(Math.abs(kept - n * (1 - p))).toBeLessThan(5 * sigma);
    // Same (seed, step, stream): the same mask (what the backward relies on).
    await r.clear('out').run(k);
    expect(Array.from((await r.read('out')).slice(0, n)).every((v, i) => v === first[i])).toBe(true);
    // Another step: a different mask.
    await r.clear('out').set('step', stepOf(3, 9)).run(k);
    const other = (await r.read('out')).slice(0, n);
    const same = other.reduce((a, v, i) => a + ((v !== 0) === (first[i] !== 0) ? 1 : 0), 0);
    expect(same).toBeLessThan(n * (p * p + (1 - p) * (1 - p)) + 5 * Math.sqrt(n));
  });
});

function attrs(a: Partial<AttentionAttrs>): AttentionAttrs {
  return {
    heads: 4,
    kv_heads: 2,
    head_dim: 8,
    causal: true,
    window: null,
    positions: 'none',
    buckets: 0,
    max_distance: 0,
    dropout: 0.3,
    stream: 1234567,
    cross: false,
    ...a,
  };
}

const TOL = { abs: 1e-5, rel: 5e-5 };

describe('attention with weight dropout matches the interpreter (forward and backward)', () => {
  const cases: [string, AttentionAttrs, number, number][] = [
    ['causal GQA, D = 8 (vec4), T = 13, p = 0.3', attrs({}), 2, 13],
    [
      'bidirectional ALiBi MHA, odd D = 6, T = 11, p = 0.5',
      attrs({ heads: 3, kv_heads: 3, head_dim: 6, causal: false, positions: 'alibi', dropout: 0.5 }),
      1,
      11,
    ],
    ['causal window 4, MQA, D = 12, T = 16, p = 0.1', attrs({ heads: 2, kv_heads: 1, head_dim: 12, window: 4, dropout: 0.1 }), 2, 16],
  ];
  it.each(cases)(
    '%s',
    async (_name, a, B, T) => {
      const { heads: H, kv_heads: Kh, head_dim: D } = a;
      const q = random(B * T * H * D, 11, -3, 3);
      const k = random(B * T * Kh * D, 12);
      const v = random(B * T * Kh * D, 13);
      const dout = random(B * T * H * D, 14);
      const rng = { seed: 4242, step: 6 };
      const ins: Tensor[] = [
        { shape: [B, T, H * D], data: q },
        { shape: [B, T, Kh * D], data: k },
        { shape: [B, T, Kh * D], data: v },
      ];
      const outType = { dtype: 'f32' as const, shape: [B, T, H * D] };
      const env = { B, T, S: T };
      const out = interpretOp('attention', ins, a, outType, env, rng);
      const plain = interpretOp('attention', ins, a, outType, env);
      const [dq, dk, dv] = applyVjp('attention', a, ins, out, { shape: out.shape, data: dout }, rng);
      // The mask matters here: the dropped forward is far from the plain one.
      const moved = Array.from(out.data).reduce((m, o, i) => Math.max(m, Math.abs(o - plain.data[i]!)), 0);
      expect(moved).toBeGreaterThan(0.05);

      const shape = { heads: H, kv_heads: Kh, head_dim: D, causal: a.causal, window: a.window, alibi: a.positions === 'alibi' };
      const dropout = { p: a.dropout, stream: a.stream! };
      const sg = gpu().gpu.subgroupMinSize;
      const variants: Partial<AttentionSpec>[] = [
        { variant: 'simple', tuning: 'cpu' },
        { variant: 'simple', tuning: 'gpu' },
        ...(sg >= 4 && sg <= 64 ? [{ variant: 'subgroup' as const, subgroupMinSize: sg }] : []),
      ];
      for (const variant of variants) {
        const what = `${_name} ${JSON.stringify(variant)}`;
        const r = gpu()
          .clear('out', 'lse', 'dterm', 'dq', 'dk', 'dv')
          .set('q', q)
          .set('k', k)
          .set('v', v)
          .set('dout', dout)
          .set('step', packStep({ offset: 0, kv_len: T, rng_seed: rng.seed, rng_step: rng.step }));
        const bwd = { B, T, ...shape, dropout, ...variant } as const;
        await r.run([
          generateAttention({ B, Tq: T, Tk: T, ...shape, lse: true, dropout, ...variant }),
          generateAttentionBackwardPre({ B, T, heads: H, head_dim: D }),
          generateAttentionBackwardDq(bwd),
          generateAttentionBackwardDkv(bwd),
        ]);
        expectClose(await r.read('out'), out.data, TOL, `${what}: out`);
        expectClose(await r.read('dq'), dq!.data, TOL, `${what}: dq`);
        expectClose(await r.read('dk'), dk!.data, TOL, `${what}: dk`);
        expectClose(await r.read('dv'), dv!.data, TOL, `${what}: dv`);
      }
    },
    120_000,
  );

  it('the kernels keep the generator contract: header, sequential bindings, every binding used (the Step uniform too)', () => {
    const spec = { B: 1, T: 8, heads: 2, kv_heads: 1, head_dim: 8, causal: true, dropout: { p: 0.2, stream: 5 } };
    const kernels = [
      generateDropout({ shape: [4, 8], p: 0.2, stream: 9 }),
      generateAttention({ ...spec, Tq: 8, Tk: 8, lse: true }),
      generateAttentionBackwardDq(spec),
      generateAttentionBackwardDkv(spec),
      generateAttentionBackwardDq({ ...spec, variant: 'subgroup', subgroupMinSize: 8 }),
      generateAttentionBackwardDkv({ ...spec, variant: 'subgroup', subgroupMinSize: 8 }),
    ];
    for (const k of kernels) {
      expect(k.code.split('\n')[0]).toMatch(/^\/\/ generated by mspec — \w+: fuses [^;]+; shapes [^;]+; FLOPs \d+; bytes \d+$/);
      expect(k.bindings.map((b) => b.binding)).toEqual(k.bindings.map((_, i) => i));
      expect(k.bindings.some((b) => b.access === 'uniform')).toBe(true);
      for (const b of k.bindings)
        expect(k.code).toMatch(b.access === 'uniform' ? /u_step\.rng_seed/ : new RegExp(`[^A-Za-z_]${b.name}\\[`));
    }
    expect(() => generateDropout({ shape: [4], p: 1, stream: 0 })).toThrow(/p must be in/);
    expect(() => generateAttention({ ...spec, Tq: 1, Tk: 8 })).toThrow(/training/);
  });

  it('inference kernels are unchanged: no dropout without a spec, and p = 0 adds nothing', () => {
    const base = { B: 1, Tq: 8, Tk: 8, heads: 2, kv_heads: 2, head_dim: 8, causal: true };
    expect(generateAttention({ ...base, dropout: { p: 0, stream: 5 } }).code).toBe(generateAttention(base).code);
    expect(generateAttention(base).code).not.toContain('dropout');
    expect(generateAttention({ ...base, dropout: { p: 0.2, stream: 5 } }).code).toContain('dropout_bits');
  });
});
