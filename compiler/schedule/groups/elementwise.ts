/**
 * The elementwise groups: a standalone activation, a gated linear unit fn(gate)·up (when it
 * is not folded into the up projection's epilogue), and a plain add (parallel blocks, residuals
 * without a following norm). Their backward passes are elementwise too; an add's gradient
 * is a copy to both inputs.
 */
import { generateActivation, generateGlu } from '../../codegen/wgsl/kernels/activation.js';
import { generateAdd } from '../../codegen/wgsl/kernels/add.js';
import { generateActivationBackward, generateGluBackward } from '../../codegen/wgsl/kernels/backward/elementwise-bwd.js';
import type { Act } from '../../ir/ops.js';
import type { GroupModule } from '../context.js';
import { numel } from '../plan-builder.js';

export interface ActivationGroup {
  readonly kind: 'activation';
  readonly x: number;
  readonly fn: Act | 'tanh';
  readonly out: number;
  readonly scope: string;
}

export interface GluGroup {
  readonly kind: 'glu';
  readonly gate: number;
  readonly up: number;
  readonly fn: Act;
  readonly out: number;
  readonly scope: string;
}

export interface AddGroup {
  readonly kind: 'add';
  readonly a: number;
  readonly b: number;
  readonly out: number;
  readonly scope: string;
}

export const activation: GroupModule<ActivationGroup> = {
  forward(c, g) {
    const { P } = c;
    P.emit(generateActivation({ shape: P.dims(g.out), fn: g.fn }), { x: P.buf(g.x), out: P.buf(g.out) }, g.scope);
  },
  backward(c, d, g) {
    const { P } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    const shape = P.dims(g.out);
    // tanh (the BERT pooler's) differentiates from its output, as ops.ts's tanh saves it: dx = dout · (1 − y²).
    const k =
      g.fn === 'tanh'
        ? generateActivationBackward({ shape, fn: 'tanh', saved: 'output' })
        : generateActivationBackward({ shape, fn: g.fn });
    const saved: Record<string, string> = g.fn === 'tanh' ? { y: P.buf(g.out) } : { x: P.buf(g.x) };
    d.contribute(P.buf(g.x), g.scope, (dst) => P.emit(k, { ...saved, dout: dOut, dx: dst }, g.scope));
  },
};

export const glu: GroupModule<GluGroup> = {
  forward(c, g) {
    const { P } = c;
    P.emit(generateGlu({ shape: P.dims(g.out), fn: g.fn }), { gate: P.buf(g.gate), up: P.buf(g.up), out: P.buf(g.out) }, g.scope);
  },
  backward(c, d, g) {
    const { P } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    const shape = P.dims(g.out);
    const dg = P.scratch(`dg:${P.buf(g.out)}`, shape);
    const du = P.scratch(`du:${P.buf(g.out)}`, shape);
    P.emit(generateGluBackward({ shape, fn: g.fn }), { gate: P.buf(g.gate), up: P.buf(g.up), dout: dOut, dgate: dg, dup: du }, g.scope);
    const bytes = 4 * numel(shape);
    d.contribute(P.buf(g.gate), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dg, dst, bytes, scope: g.scope }));
    d.contribute(P.buf(g.up), g.scope, (dst) => P.steps.push({ kind: 'copy', src: du, dst, bytes, scope: g.scope }));
  },
};

export const add: GroupModule<AddGroup> = {
  forward(c, g) {
    const { P } = c;
    P.emit(generateAdd({ shape: P.dims(g.out) }), { a: P.buf(g.a), b: P.buf(g.b), out: P.buf(g.out) }, g.scope);
  },
  backward(c, d, g) {
    const { P } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    const bytes = 4 * numel(P.dims(g.out));
    for (const v of [g.a, g.b])
      d.contribute(P.buf(v), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dOut, dst, bytes, scope: g.scope }));
  },
};
