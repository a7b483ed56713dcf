/**
 * One row of a matrix, chosen at run time: out[0, :] = x[index[0], :] with the index clamped
 * into [0, rows). Prefill plans of large-vocabulary models use it to take the last prompt
 * position before the LM head, so the head computes one row of logits (all sampling needs)
 * rather than context × vocab. One invocation per vec4 (width % 4 == 0) or per value.
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, u32, vectorized } from './common.js';

export interface GatherRowSpec {
  rows: number;
  width: number;
  /** Entry point; default 'gather_row'. */
  name?: string;
}

/** Bindings: x [rows, width], index (i32 [1]), out [1, width]. */
export function generateGatherRow(spec: GatherRowSpec): WgslKernel {
  const entryPoint = entryName('gather_row', spec.name);
  for (const d of ['rows', 'width'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows, width } = spec;
  const { w, V, units: W4 } = vectorized(width);
  const b = new Bindings(entryPoint)
    .storage('x', 'read', [rows, width], V)
    .storage('index', 'read', [1], 'i32')
    .storage('out', 'read_write', [1, width], V);
  const lin = linear(entryPoint, W4);
  return assemble({
    entryPoint,
    fuses: [],
    shapes: { x: [rows, width], index: [1], out: [1, width] },
    notes: [`out[0, :] = x[clamp(index[0], 0, ${rows - 1}), :]; one invocation per ${w === 4 ? 'vec4' : 'value'} of out`],
    bindings: b,
    launch: lin,
    flops: 0,
    bytes: 4 + 2 * 4 * width,
    main: lin.main(`let r = u32(clamp(index[0], 0i, ${rows - 1}i));
  out[i] = x[r * ${u32(W4)} + i];`),
  });
}
