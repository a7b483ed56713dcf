/**
 * Backward of the elementwise activations and gated linear units (../activation.ts):
 *   activation: dx = dout · fn'(x)                     (x = the activation's input)
 *   glu:        dgate = dout · up · fn'(gate),  dup = dout · fn(gate)
 * with the derivatives of the activation table (compiler/ir/activations.ts), written exactly
 * from the forward definitions, never through a cancelling 1 − σ or 1 − tanh².
 */
import type { WgslKernel } from '../../kernel-types.js';
import { ACTIVATIONS, activationPair, type ActivationName } from '../../../../ir/activations.js';
import { type GluFn, gluLayout } from '../activation.js';
import { assemble, Bindings, elementwise, entryName, u32 } from '../common.js';

export interface ActivationBackwardSpec {
  /** Logical shape, e.g. [B, T, F]; only the element count matters. */
  shape: number[];
  fn: ActivationName;
  /**
   * What the forward saved: 'input' (x, the default) or, for tanh only, 'output' (y = tanh x,
   * as ops.ts's tanh saves it): then the binding is y and dx = dout · (1 − y²).
   */
  saved?: 'input' | 'output';
  /** Overwrite dout with dx (dout read_write, no dx binding). Default false. */
  inPlace?: boolean;
  /** Entry point; default 'activation_backward'. */
  name?: string;
}

/** Bindings, in order: x [shape] (or y, saved 'output'), dout [shape] (read_write in place), dx [shape] (unless in place). */
export function generateActivationBackward(spec: ActivationBackwardSpec): WgslKernel {
  const entryPoint = entryName('activation_backward', spec.name);
  const { n, w, V, lin } = elementwise(entryPoint, spec.shape);
  const saved = spec.saved ?? 'input';
  if (saved === 'output' && spec.fn !== 'tanh')
    throw new Error(`${entryPoint}: only tanh's backward works from the output, not ${spec.fn}'s`);
  const inPlace = spec.inPlace ?? false;
  const src = saved === 'output' ? 'y' : 'x';
  const b = new Bindings(entryPoint).storage(src, 'read', spec.shape, V).storage('dout', inPlace ? 'read_write' : 'read', spec.shape, V);
  if (!inPlace) b.storage('dx', 'read_write', spec.shape, V);
  const deriv = saved === 'output' ? `(${V}(1.0) - y[i] * y[i])` : `${w === 4 ? 'dact4' : 'dact'}(x[i])`;
  return assemble({
    entryPoint,
    fuses: [`${spec.fn}_backward`],
    shapes: { [src]: spec.shape },
    notes: [
      `backward of ${spec.fn}: ${inPlace ? 'dout' : 'dx'} = dout · ${saved === 'output' ? '(1 − y²), y = tanh(x) saved by the forward' : `${spec.fn}'(x)`}; one invocation per ${w === 4 ? 'vec4' : 'value'}`,
    ],
    bindings: b,
    launch: lin,
    flops: n * ((saved === 'output' ? 2 : ACTIVATIONS[spec.fn].dflops) + 1),
    ...(saved === 'output' ? {} : { prelude: activationPair(spec.fn, 'dact', true) }),
    main: lin.main(`${inPlace ? 'dout' : 'dx'}[i] = dout[i] * ${deriv};`),
  });
}

export interface GluBackwardSpec {
  /** Shape of the forward's out (and of gate and up), e.g. [B, T, F]. */
  shape: number[];
  fn: GluFn;
  /** gate and up were one (…, 2F) tensor, gate first (the forward's packed); then so is the gradient. Default false. */
  packed?: boolean;
  /** Entry point; default 'glu_backward'. */
  name?: string;
}

/**
 * Bindings, in order: gate [shape] and up [shape] (or gate_up [..., 2F] when packed),
 * dout [shape], dgate [shape] and dup [shape] (or dgate_up [..., 2F] when packed), both read_write.
 */
export function generateGluBackward(spec: GluBackwardSpec): WgslKernel {
  const entryPoint = entryName('glu_backward', spec.name);
  const packed = spec.packed ?? false;
  const { n, w, V, F4, pshape, lin, load } = gluLayout(entryPoint, spec.shape, packed);
  const b = new Bindings(entryPoint);
  if (packed) b.storage('gate_up', 'read', pshape, V);
  else b.storage('gate', 'read', spec.shape, V).storage('up', 'read', spec.shape, V);
  b.storage('dout', 'read', spec.shape, V);
  if (packed) b.storage('dgate_up', 'read_write', pshape, V);
  else b.storage('dgate', 'read_write', spec.shape, V).storage('dup', 'read_write', spec.shape, V);
  const [act, dact] = w === 4 ? ['act4', 'dact4'] : ['act', 'dact'];
  const store = packed
    ? `dgate_up[base] = d * u * ${dact}(g);\n  dgate_up[base + ${u32(F4)}] = d * ${act}(g);`
    : `dgate[i] = d * u * ${dact}(g);\n  dup[i] = d * ${act}(g);`;
  return assemble({
    entryPoint,
    fuses: ['glu_backward'],
    shapes: packed ? { gate_up: pshape, dout: spec.shape } : { gate: spec.shape, up: spec.shape, dout: spec.shape },
    notes: [
      `backward of glu (${spec.fn}): dgate = dout · up · ${spec.fn}'(gate), dup = dout · ${spec.fn}(gate)` +
        `${packed ? '; gate and up (and their gradients) the two halves of the last dimension' : ''}; one invocation per ${w === 4 ? 'vec4' : 'value'}`,
    ],
    bindings: b,
    launch: lin,
    flops: n * (ACTIVATIONS[spec.fn].dflops + 2 + ACTIVATIONS[spec.fn].flops + 1),
    prelude: `${activationPair(spec.fn, 'act')}\n${activationPair(spec.fn, 'dact', true)}`,
    main: lin.main(`${load}
  let d = dout[i];
  ${store}`),
  });
}
