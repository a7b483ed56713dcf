/**
 * Elementwise sum of two same-shaped tensors (parallel attention + MLP branches, residual
 * adds that no norm follows): out = a + b, or a += b in place.
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, elementwise, entryName } from './common.js';

export interface AddSpec {
  shape: number[];
  /** a += b (binding a is read_write, no out). Default false. */
  inPlace?: boolean;
  /** Entry point; default 'add'. */
  name?: string;
}

/** Bindings: a [shape] (read, or read_write in place), b [shape], out [shape] (unless in place). */
export function generateAdd(spec: AddSpec): WgslKernel {
  const entryPoint = entryName('add', spec.name);
  const { n, w, V, lin } = elementwise(entryPoint, spec.shape);
  const inPlace = spec.inPlace ?? false;
  const b = new Bindings(entryPoint).storage('a', inPlace ? 'read_write' : 'read', spec.shape, V).storage('b', 'read', spec.shape, V);
  if (!inPlace) b.storage('out', 'read_write', spec.shape, V);
  return assemble({
    entryPoint,
    fuses: ['add'],
    shapes: { a: spec.shape, b: spec.shape },
    notes: [`${inPlace ? 'a += b' : 'out = a + b'}, one invocation per ${w === 4 ? 'vec4' : 'value'}`],
    bindings: b,
    launch: lin,
    flops: n,
    main: lin.main(`${inPlace ? 'a' : 'out'}[i] = a[i] + b[i];`),
  });
}
