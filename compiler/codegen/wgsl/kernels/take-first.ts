/**
 * The first position of every sequence (the BERT pooler's input, the [CLS] token):
 *   forward:  out[b, :] = x[b, 0, :]                          x (B, T, C) → out (B, C)
 *   backward: dx[b, t, :] = t == 0 ? dout[b, :] : 0           (every row written, so no clearing pass)
 * One invocation per vec4 (C % 4 == 0) or per value of the written tensor.
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, u32, vectorized } from './common.js';

export interface TakeFirstSpec {
  B: number;
  T: number;
  C: number;
  /** Entry point; default 'take_first' (forward) or 'take_first_backward'. */
  name?: string;
}

function checked(kernel: string, spec: TakeFirstSpec) {
  for (const d of ['B', 'T', 'C'] as const) checkInt(kernel, d, spec[d]);
  const { w, V, units: C4 } = vectorized(spec.C);
  return { ...spec, w, V, C4 };
}

/** Bindings: x [B, T, C], out [B, C]. */
export function generateTakeFirst(spec: TakeFirstSpec): WgslKernel {
  const entryPoint = entryName('take_first', spec.name);
  const { B, T, C, w, V, C4 } = checked(entryPoint, spec);
  const b = new Bindings(entryPoint).storage('x', 'read', [B, T, C], V).storage('out', 'read_write', [B, C], V);
  const lin = linear(entryPoint, B * C4);
  return assemble({
    entryPoint,
    fuses: ['take_first'],
    shapes: { x: [B, T, C], out: [B, C] },
    notes: [`out[b, :] = x[b, 0, :]; one invocation per ${w === 4 ? 'vec4' : 'value'} of out`],
    bindings: b,
    launch: lin,
    flops: 0,
    bytes: 2 * 4 * B * C,
    main: lin.main(`out[i] = x[(i / ${u32(C4)}) * ${u32(T * C4)} + i % ${u32(C4)}];`),
  });
}

/** Bindings: dout [B, C], dx [B, T, C] (read_write; every element written). */
export function generateTakeFirstBackward(spec: TakeFirstSpec): WgslKernel {
  const entryPoint = entryName('take_first_backward', spec.name);
  const { B, T, C, w, V, C4 } = checked(entryPoint, spec);
  const b = new Bindings(entryPoint).storage('dout', 'read', [B, C], V).storage('dx', 'read_write', [B, T, C], V);
  const lin = linear(entryPoint, B * T * C4);
  return assemble({
    entryPoint,
    fuses: ['take_first_backward'],
    shapes: { dout: [B, C], dx: [B, T, C] },
    notes: [`dx[b, 0, :] = dout[b, :], dx[b, t > 0, :] = 0; one invocation per ${w === 4 ? 'vec4' : 'value'} of dx`],
    bindings: b,
    launch: lin,
    flops: 0,
    bytes: 4 * B * C + 4 * B * T * C,
    main: lin.main(`let row = i / ${u32(C4)};
  let c = i % ${u32(C4)};
  dx[i] = select(${V}(0.0), dout[(row / ${u32(T)}) * ${u32(C4)} + c], row % ${u32(T)} == 0u);`),
  });
}
