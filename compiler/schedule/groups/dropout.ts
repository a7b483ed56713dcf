/**
 * dropout: inverted dropout on the embeddings and on each residual branch (compiler/ir/lower.ts).
 * A training plan runs the dropout kernel, whose mask is a pure function of the Step uniform's
 * (rng_seed, rng_step), the site's stream and the element index, so nothing is saved: the
 * backward runs the same kernel on the gradient and gets the same mask. Every other plan
 * (eval forward, prefill, decode) emits nothing: the output value is the input's buffer.
 */
import { generateDropout } from '../../codegen/wgsl/kernels/dropout.js';
import type { GroupModule } from '../context.js';

export interface DropoutGroup {
  readonly kind: 'dropout';
  readonly x: number;
  readonly out: number;
  readonly p: number;
  readonly stream: number;
  readonly scope: string;
}

export const dropout: GroupModule<DropoutGroup> = {
  forward(c, g) {
    const { P } = c;
    if (!c.training) {
      P.alias(g.out, g.x);
      return;
    }
    P.emit(generateDropout({ shape: P.dims(g.out), p: g.p, stream: g.stream }), { x: P.buf(g.x), out: P.buf(g.out) }, g.scope);
  },
  backward(c, d, g) {
    const { P } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    const kernel = generateDropout({ shape: P.dims(g.out), p: g.p, stream: g.stream });
    d.contribute(P.buf(g.x), g.scope, (dst) => P.emit(kernel, { x: dOut, out: dst }, g.scope));
  },
};
