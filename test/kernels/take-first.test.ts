/**
 * take_first (the BERT pooler's input) and its backward on the real adapter, against the
 * definition: out[b, :] = x[b, 0, :]; dx[b, 0, :] = dout[b, :] and 0 at every other position.
 * Pure data movement, so the comparison is exact. The backward's dx starts full of NaN, so a
 * position it fails to write (it must write every one: no clearing pass precedes it) fails.
 * Widths cover the vec4 (C % 4 == 0) and scalar paths; B·T·C is no multiple of the workgroup.
 */
import { describe, expect, it } from 'vitest';
import { generateTakeFirst, generateTakeFirstBackward } from '../../compiler/codegen/wgsl/kernels/take-first.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const EXACT = { abs: 0, rel: 0 };

describe.each([
  [3, 5, 12],
  [2, 7, 9],
])('take_first, B %i, T %i, C %i', (B, T, C) => {
  it('forward: out[b] = x[b, 0]', async () => {
    const x = random(B * T * C, B * 100 + C);
    const k = generateTakeFirst({ B, T, C });
    expect(k.bindings.map((b) => `${b.name}:${b.access}`)).toEqual(['x:read', 'out:read_write']);
    const r = gpu()
      .clear('out')
      .set('x', x)
      .set('out', new Float32Array(B * C).fill(NaN));
    await r.run(k);
    const want = new Float64Array(B * C);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) want[b * C + c] = x[b * T * C + c]!;
    expectClose(await r.read('out'), want, EXACT, 'take_first');
  });

  it('backward: dx = dout at t = 0, zero elsewhere, every element written', async () => {
    const dout = random(B * C, B * 200 + C);
    const k = generateTakeFirstBackward({ B, T, C });
    expect(k.bindings.map((b) => `${b.name}:${b.access}`)).toEqual(['dout:read', 'dx:read_write']);
    const r = gpu()
      .clear('dx')
      .set('dout', dout)
      .set('dx', new Float32Array(B * T * C).fill(NaN));
    await r.run(k);
    const want = new Float64Array(B * T * C);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) want[b * T * C + c] = dout[b * C + c]!;
    expectClose(await r.read('dx'), want, EXACT, 'take_first_backward');
  });
});
