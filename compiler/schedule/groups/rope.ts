/**
 * rope: rotary position embedding on the first rotary_dims of each head, at absolute
 * positions Step.offset + t. Its backward is the same rotation by the negated angle.
 */
import { generateRopeBackward } from '../../codegen/wgsl/kernels/backward/rope-bwd.js';
import { generateRope } from '../../codegen/wgsl/kernels/rope.js';
import type { GroupModule } from '../context.js';

export interface RopeGroup {
  readonly kind: 'rope';
  readonly x: number;
  readonly out: number;
  readonly heads: number;
  readonly head_dim: number;
  readonly rotary_dims: number;
  readonly base: number;
  readonly scope: string;
}

const spec = (B: number, T: number, g: RopeGroup) => ({
  B,
  T,
  heads: g.heads,
  head_dim: g.head_dim,
  rotary_dims: g.rotary_dims,
  base: g.base,
});

export const rope: GroupModule<RopeGroup> = {
  forward(c, g) {
    const { P } = c;
    P.emit(generateRope(spec(c.B, c.T, g)), { x: P.buf(g.x), out: P.buf(g.out) }, g.scope);
  },
  backward(c, d, g) {
    const { P } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    d.contribute(P.buf(g.x), g.scope, (dst) => P.emit(generateRopeBackward(spec(c.B, c.T, g)), { dout: dOut, dx: dst }, g.scope));
  },
};
