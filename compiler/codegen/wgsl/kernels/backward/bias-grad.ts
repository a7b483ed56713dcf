/**
 * Column sums, for the bias gradients of linear layers (dbias = Σ over rows of dout):
 *   out[c] (+)= Σ_r x[r, c]
 * One invocation per column (vec4 of columns when cols divides by 4) summing the rows in
 * order: deterministic, no atomics. The parallelism is cols (or cols/4) invocations, each
 * streaming a strided column; neighbouring invocations read neighbouring values of a row.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, u32, vectorized } from '../common.js';

export interface ColumnSumSpec {
  rows: number;
  cols: number;
  /** Add to out instead of overwriting it (gradient accumulation). Default false. */
  accumulate?: boolean;
  /** Entry point; default 'column_sum'. */
  name?: string;
}

/** Bindings, in order: x [rows, cols], out [cols] (read_write). */
export function generateColumnSum(spec: ColumnSumSpec): WgslKernel {
  const entryPoint = entryName('column_sum', spec.name);
  for (const d of ['rows', 'cols'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows, cols } = spec;
  const acc = spec.accumulate ?? false;
  const { w, V, units: C4 } = vectorized(cols);
  const b = new Bindings(entryPoint).storage('x', 'read', [rows, cols], V).storage('out', 'read_write', [cols], V);
  const lin = linear(entryPoint, C4);
  const main = lin.main(`var s = ${V}(0.0);
  for (var r = 0u; r < ${u32(rows)}; r++) {
    s += x[r * ${u32(C4)} + i];
  }
  out[i] = ${acc ? 'out[i] + s' : 's'};`);
  return assemble({
    entryPoint,
    fuses: ['linear_backward'],
    shapes: { x: [rows, cols], out: [cols] },
    notes: [
      `out[c] ${acc ? '+=' : '='} Σ_r x[r, c] (the bias gradient of a linear layer: x = dout)`,
      `one invocation per ${w === 4 ? 'vec4' : 'value'} of columns, rows summed in order (deterministic, no atomics)`,
    ],
    bindings: b,
    launch: lin,
    flops: rows * cols + (acc ? cols : 0),
    main,
  });
}
