/**
 * scale (the model's logit_scale on the LM head's input) on the real adapter, against the CPU
 * interpreter: out = x · factor with the factor rounded to f32 as the shader's literal holds
 * it, one f32 multiply per element, so the comparison is exact. The backward is the same kernel
 * on the gradient (groups/scale.ts), checked against the VJP table's rule. Sizes cover the
 * vec4 and scalar paths; the output starts full of NaN, so an element left unwritten fails.
 */
import { describe, expect, it } from 'vitest';
import { generateScale } from '../../compiler/codegen/wgsl/kernels/scale.js';
import { interpretOp } from '../../compiler/ir/interpret.js';
import { applyVjp } from '../../compiler/ir/vjp.js';
import { expectClose, random, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const EXACT = { abs: 0, rel: 0 };

describe.each([
  [[2, 5, 32], 1 / Math.sqrt(512)],
  [[3, 7], 30],
  [[1, 1, 13], 0.0625],
])('scale, shape %j, factor %d', (shape, factor) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const attrs = { factor };

  it('forward equals the interpreter exactly', async () => {
    const x = random(n, n, -6, 6);
    const k = generateScale({ shape, factor });
    expect(k.bindings.map((b) => `${b.name}:${b.access}`)).toEqual(['x:read', 'out:read_write']);
    const r = gpu().clear('out').set('x', x).set('out', new Float32Array(n).fill(NaN));
    await r.run(k);
    const want = interpretOp('scale', [{ shape, data: x }], attrs, { dtype: 'f32', shape }, { B: 1, T: 1, S: 1 });
    expectClose(await r.read('out'), want.data, EXACT, 'scale');
  });

  it('the same kernel on the gradient is the VJP rule dx = dout · factor', async () => {
    const x = random(n, n + 1);
    const dout = random(n, n + 2);
    const r = gpu().clear('out').set('x', dout).set('out', new Float32Array(n).fill(NaN));
    await r.run(generateScale({ shape, factor }));
    const [dx] = applyVjp('scale', attrs, [{ shape, data: x }], { shape, data: x }, { shape, data: dout });
    expectClose(await r.read('out'), dx!.data, EXACT, 'scale backward');
  });
});
