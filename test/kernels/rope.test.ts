/**
 * rope on the real adapter against a float64 reference (angles in float64 too). The GPU's
 * angle is an f32 product (error ~6e-8·angle, angle <= position here) and f32 sin/cos, so
 * the tolerance is |err| <= 2e-6 + 2e-6·|ref| for positions below 64.
 */
import { describe, expect, it } from 'vitest';
import { generateRope, ropeInvFreq, type RopeSpec } from '../../compiler/codegen/wgsl/kernels/rope.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 2e-6, rel: 2e-6 };

function reference(s: RopeSpec, x: Float32Array, offset: number): Float64Array {
  const D = s.head_dim,
    rot = s.rotary_dims ?? D,
    half = rot / 2,
    base = s.base ?? 10000;
  const out = Float64Array.from(x);
  for (let bt = 0; bt < s.B * s.T; bt++) {
    const pos = offset + (bt % s.T);
    for (let h = 0; h < s.heads; h++) {
      const o = (bt * s.heads + h) * D;
      for (let i = 0; i < half; i++) {
        const angle = pos * base ** (-(2 * i) / rot);
        const a = x[o + i]!,
          e = x[o + i + half]!;
        out[o + i] = a * Math.cos(angle) - e * Math.sin(angle);
        out[o + i + half] = e * Math.cos(angle) + a * Math.sin(angle);
      }
    }
  }
  return out;
}

async function check(s: RopeSpec, offset: number, seed: number): Promise<void> {
  const x = random(s.B * s.T * s.heads * s.head_dim, seed);
  const r = gpu()
    .clear('out')
    .set('x', x)
    .set('step', packStep({ offset, kv_len: offset + s.T }));
  await r.run(generateRope(s));
  expectClose(await r.read(s.inPlace ? 'x' : 'out'), reference(s, x, offset), TOL, `${JSON.stringify(s)} offset ${offset}`);
}

describe('rope matches the float64 reference', () => {
  it('full rotary, D = 64, H = 6, x → out; offset 0 and 17', async () => {
    await check({ B: 2, T: 9, heads: 6, head_dim: 64, base: 10000 }, 0, 1);
    await check({ B: 2, T: 9, heads: 6, head_dim: 64, base: 10000 }, 17, 2);
  });

  it('partial rotary (rotary_dims 8 < head_dim 32), Kh = 2, x → out (pass-through copied) and in place', async () => {
    await check({ B: 1, T: 5, heads: 2, head_dim: 32, rotary_dims: 8, base: 10000 }, 3, 3);
    await check({ B: 1, T: 5, heads: 2, head_dim: 32, rotary_dims: 8, base: 500000, inPlace: true }, 3, 4);
  });

  it('decode shape: T = 1 at offset 40, in place', async () => {
    await check({ B: 3, T: 1, heads: 4, head_dim: 32, inPlace: true }, 40, 5);
  });

  it('inv_freq follows base^(-2i/rotary_dims)', () => {
    expect(ropeInvFreq(8, 10000)).toEqual([1, 10000 ** -0.25, 10000 ** -0.5, 10000 ** -0.75]);
    expect(() => generateRope({ B: 1, T: 1, heads: 1, head_dim: 8, rotary_dims: 6 + 1 })).toThrow(/must be even/);
  });
});
