/**
 * take_first: the first position of every sequence, (B, T, C) → (B, C), the input of BERT's
 * pooler (dense + tanh, then an ordinary linear and activation group). Its backward writes
 * the whole input gradient: dout at t = 0, zero elsewhere.
 */
import { generateTakeFirst, generateTakeFirstBackward } from '../../codegen/wgsl/kernels/take-first.js';
import type { GroupModule, PlanContext } from '../context.js';

export interface TakeFirstGroup {
  readonly kind: 'take_first';
  readonly x: number;
  readonly out: number;
  readonly scope: string;
}

function dims(c: PlanContext, g: TakeFirstGroup) {
  const [B, T, C] = c.P.dims(g.x) as [number, number, number];
  return { B, T, C };
}

export const takeFirst: GroupModule<TakeFirstGroup> = {
  forward(c, g) {
    const { P } = c;
    P.emit(generateTakeFirst(dims(c, g)), { x: P.buf(g.x), out: P.buf(g.out) }, g.scope);
  },
  backward(c, d, g) {
    const { P } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    d.contribute(P.buf(g.x), g.scope, (dst) => P.emit(generateTakeFirstBackward(dims(c, g)), { dout: dOut, dx: dst }, g.scope));
  },
};
