/**
 * scale: x · factor, the model's logit_scale on the LM head's input (compiler/ir/lower.ts).
 * Its own small kernel in every plan (the head's matmul reads the scaled rows); the backward is
 * the same kernel on the gradient, dx = dout · factor, so nothing is saved.
 */
import { generateScale } from '../../codegen/wgsl/kernels/scale.js';
import type { GroupModule } from '../context.js';

export interface ScaleGroup {
  readonly kind: 'scale';
  readonly x: number;
  readonly out: number;
  readonly factor: number;
  readonly scope: string;
}

export const scale: GroupModule<ScaleGroup> = {
  forward(c, g) {
    const { P } = c;
    P.emit(generateScale({ shape: P.dims(g.out), factor: g.factor }), { x: P.buf(g.x), out: P.buf(g.out) }, g.scope);
  },
  backward(c, d, g) {
    const { P } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    const kernel = generateScale({ shape: P.dims(g.out), factor: g.factor });
    d.contribute(P.buf(g.x), g.scope, (dst) => P.emit(kernel, { x: dOut, out: dst }, g.scope));
  },
};
