/**
 * Elementwise activations and gated linear units:
 *   activation: out = fn(x)             fn ∈ gelu, gelu_tanh, relu, silu, tanh
 *   glu:        out = fn(gate) · up      swiglu = silu, geglu = gelu (or gelu_tanh), reglu = relu
 * One invocation per vec4 (when the flat size, or for packed glu the width, divides by 4) or
 * per value.
 */
import type { WgslKernel } from '../kernel-types.js';
import { ACTIVATIONS, activationPair, type ActivationName } from '../../../ir/activations.js';
import type { Act } from '../../../ir/ops.js';
import { assemble, Bindings, checkInt, elementwise, entryName, linear, product, u32, vecType, vectorWidth } from './common.js';

export interface ActivationSpec {
  /** Logical shape, e.g. [B, T, F]; only the element count matters. */
  shape: number[];
  fn: ActivationName;
  /** Overwrite x (binding x is read_write, no out). Default false. */
  inPlace?: boolean;
  /** Entry point; default 'activation'. */
  name?: string;
}

/** Bindings: x [shape] (read, or read_write in place), out [shape] (unless in place). */
export function generateActivation(spec: ActivationSpec): WgslKernel {
  const entryPoint = entryName('activation', spec.name);
  const { n, w, V, lin } = elementwise(entryPoint, spec.shape);
  const inPlace = spec.inPlace ?? false;
  const b = new Bindings(entryPoint).storage('x', inPlace ? 'read_write' : 'read', spec.shape, V);
  if (!inPlace) b.storage('out', 'read_write', spec.shape, V);
  return assemble({
    entryPoint,
    fuses: [spec.fn],
    shapes: { x: spec.shape },
    notes: [`${inPlace ? 'x' : 'out'} = ${spec.fn}(x), one invocation per ${w === 4 ? 'vec4' : 'value'}`],
    bindings: b,
    launch: lin,
    flops: n * ACTIVATIONS[spec.fn].flops,
    prelude: activationPair(spec.fn, 'act'),
    main: lin.main(`${inPlace ? 'x' : 'out'}[i] = ${w === 4 ? 'act4' : 'act'}(x[i]);`),
  });
}

export type GluFn = Act;

export interface GluSpec {
  /** Shape of out (and of gate and up), e.g. [B, T, F]. */
  shape: number[];
  fn: GluFn;
  /**
   * gate and up come as one (…, 2F) tensor, gate in the first F columns (a fused gate+up
   * matmul, as Phi-3's gate_up_proj). Default false: two tensors.
   */
  packed?: boolean;
  /** Entry point; default 'glu'. */
  name?: string;
}

/**
 * What glu and its backward (backward/elementwise-bwd.ts) share: the shape checks, the vector
 * width, the dispatch and the WGSL that loads g and u for item i (`base`: gate's index when packed).
 */
export function gluLayout(entryPoint: string, shape: number[], packed: boolean) {
  shape.forEach((d, i) => checkInt(entryPoint, `shape[${i}]`, d));
  if (shape.length === 0) throw new Error(`${entryPoint}: shape must have a last (feature) dimension`);
  const n = product(shape);
  const F = shape[shape.length - 1]!;
  const w = vectorWidth(packed ? F : n);
  const F4 = F / w;
  const load = packed
    ? `let base = (i / ${u32(F4)}) * ${u32(2 * F4)} + i % ${u32(F4)};\n  let g = gate_up[base];\n  let u = gate_up[base + ${u32(F4)}];`
    : 'let g = gate[i];\n  let u = up[i];';
  return { n, w, V: vecType(w), F4, pshape: [...shape.slice(0, -1), 2 * F], lin: linear(entryPoint, n / w), load };
}

/** Bindings: gate [shape] and up [shape], or gate_up [..., 2F] when packed; out [shape]. */
export function generateGlu(spec: GluSpec): WgslKernel {
  const entryPoint = entryName('glu', spec.name);
  const packed = spec.packed ?? false;
  const { n, w, V, pshape, lin, load } = gluLayout(entryPoint, spec.shape, packed);
  const b = new Bindings(entryPoint);
  if (packed) b.storage('gate_up', 'read', pshape, V);
  else b.storage('gate', 'read', spec.shape, V).storage('up', 'read', spec.shape, V);
  b.storage('out', 'read_write', spec.shape, V);
  return assemble({
    entryPoint,
    fuses: ['glu'],
    shapes: packed ? { gate_up: pshape, out: spec.shape } : { gate: spec.shape, up: spec.shape, out: spec.shape },
    notes: [
      `out = ${spec.fn}(gate) · up${packed ? ", gate and up the two halves of gate_up's last dimension" : ''}; one invocation per ${w === 4 ? 'vec4' : 'value'}`,
    ],
    bindings: b,
    launch: lin,
    flops: n * (ACTIVATIONS[spec.fn].flops + 1),
    prelude: activationPair(spec.fn, 'act'),
    main: lin.main(`${load}
  out[i] = ${w === 4 ? 'act4' : 'act'}(g) * u;`),
  });
}
