/**
 * Multiplication by a constant: out = x · factor (the model's logit_scale on the LM head's
 * input). Linear with a constant slope, so the backward is this same kernel on the gradient:
 * dx = dout · factor. One invocation per vec4 (when the size divides by 4) or per value.
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, elementwise, entryName, f32 } from './common.js';

export interface ScaleSpec {
  /** Logical shape; only the element count matters. */
  shape: number[];
  /** A finite constant; the shader holds it as an f32 literal. */
  factor: number;
  /** Entry point; default 'scale'. */
  name?: string;
}

/** Bindings: x [shape], out [shape]. */
export function generateScale(spec: ScaleSpec): WgslKernel {
  const entryPoint = entryName('scale', spec.name);
  const { n, w, V, lin } = elementwise(entryPoint, spec.shape);
  if (!Number.isFinite(spec.factor)) throw new Error(`${entryPoint}: factor must be finite, got ${spec.factor}`);
  const b = new Bindings(entryPoint).storage('x', 'read', spec.shape, V).storage('out', 'read_write', spec.shape, V);
  return assemble({
    entryPoint,
    fuses: ['scale'],
    shapes: { x: spec.shape },
    notes: [`out = x · ${spec.factor}, one invocation per ${w === 4 ? 'vec4' : 'value'}`],
    bindings: b,
    launch: lin,
    flops: n,
    main: lin.main(`out[i] = x[i] * ${f32(Math.fround(spec.factor))};`),
  });
}
