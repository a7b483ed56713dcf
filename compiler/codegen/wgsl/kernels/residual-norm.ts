/**
 * Fused residual add + normalisation, one workgroup per row of C values:
 *   s = x + y                      (the new residual stream; y optional)
 *   layernorm: out = (s − mean) / sqrt(var + eps) · w + b     (biased variance, as PyTorch)
 *   rmsnorm:   out = s / sqrt(mean(s²) + eps) · w (+ b)
 * The row is read twice: once for the statistics, once for the output. Statistics are
 * shifted sums — Σ(s − K) and Σ(s − K)² with K = the row's first value — so the variance
 * does not cancel when the mean is large against the spread; the two sums share one
 * (vec2) reduction.
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, grid, rowWorkgroupSize, u32, vectorized } from './common.js';
import { useSubgroups, workgroupReduce, type ReduceOptions } from './reduce.js';

export type NormKind = 'layernorm' | 'rmsnorm';

/** What residual_norm and its backward share: the rows, the norm, and how a row is reduced. */
export interface NormRowSpec extends ReduceOptions {
  /** Rows (B·T). */
  rows: number;
  /** Row width (any; 8192 and beyond are fine). */
  C: number;
  norm: NormKind;
  eps: number;
}

/** Checks a NormRowSpec and lays it out: rows of C4 vectors of width w, one workgroup of WG per row. */
export function normRows(entryPoint: string, spec: NormRowSpec) {
  for (const d of ['rows', 'C'] as const) checkInt(entryPoint, d, spec[d]);
  if (!(spec.eps >= 0)) throw new Error(`${entryPoint}: eps must be >= 0, got ${spec.eps}`);
  const { w, V, units: C4 } = vectorized(spec.C);
  const sg = spec.subgroupMinSize ?? 0;
  const WG = spec.workgroupSize ?? rowWorkgroupSize(C4, spec.tuning ?? 'gpu', sg);
  const layer = spec.norm === 'layernorm';
  return {
    w,
    V,
    C4,
    WG,
    layer,
    subgroups: useSubgroups(WG, sg),
    g: grid(entryPoint, spec.rows, WG),
    hsum: (e: string) => (w === 4 ? `dot(${e}, vec4<f32>(1.0))` : e),
    // layernorm reduces two sums at once (one vec2 reduction), rmsnorm one.
    reduce: workgroupReduce(WG, sg, ['sum'], layer ? 'vec2<f32>' : 'f32'),
  };
}

/** Entry point default 'residual_norm'. */
export interface ResidualNormSpec extends NormRowSpec {
  /** Add a branch y (rows, C) to x first. Default false. */
  branch?: boolean;
  /**
   * Where x + y goes (only with a branch): 'separate' (binding sum, the default), 'in_place'
   * (x is read_write and becomes x + y), or 'none' (nothing reads it).
   */
  sum?: 'separate' | 'in_place' | 'none';
  /** Multiply by a weight (C). Default true. */
  weight?: boolean;
  /** Add a bias (C). Default false. */
  bias?: boolean;
  /** Also write stats (rows, 2) = (mean, rstd) per row for the backward (mean is 0 for rmsnorm). Default false. */
  stats?: boolean;
}

/**
 * Bindings, in order: x [rows, C] (read_write when sum is 'in_place'), y [rows, C] (branch),
 * sum [rows, C] ('separate'), weight [C], bias [C], out [rows, C], stats [rows, 2].
 */
export function generateResidualNorm(spec: ResidualNormSpec): WgslKernel {
  const entryPoint = entryName('residual_norm', spec.name);
  const { w, V, C4, WG, layer, subgroups, g, hsum, reduce } = normRows(entryPoint, spec);
  const { rows, C, norm } = spec;
  const branch = spec.branch ?? false;
  const sumMode = branch ? (spec.sum ?? 'separate') : 'none';
  const weight = spec.weight ?? true,
    bias = spec.bias ?? false,
    stats = spec.stats ?? false;

  const b = new Bindings(entryPoint).storage('x', sumMode === 'in_place' ? 'read_write' : 'read', [rows, C], V);
  if (branch) b.storage('y', 'read', [rows, C], V);
  if (sumMode === 'separate') b.storage('sum', 'read_write', [rows, C], V);
  if (weight) b.storage('weight', 'read', [C], V);
  if (bias) b.storage('bias', 'read', [C], V);
  b.storage('out', 'read_write', [rows, C], V);
  if (stats) b.storage('stats', 'read_write', [rows, 2]);

  const sq = (e: string) => (w === 4 ? `dot(${e}, ${e})` : `${e} * ${e}`);
  const first = w === 4 ? `x[base].x${branch ? ' + y[base].x' : ''}` : `x[base]${branch ? ' + y[base]' : ''}`;
  const store = sumMode === 'separate' ? '\n    sum[base + c] = a;' : sumMode === 'in_place' ? '\n    x[base + c] = a;' : '';
  // The second pass re-reads the residual sum where it was stored, else recomputes it (same f32 add).
  const reload = sumMode === 'separate' ? 'sum[base + c]' : `x[base + c]${sumMode === 'none' && branch ? ' + y[base + c]' : ''}`;
  const accumulate = layer ? `let d = a - ${V}(shift);\n    acc += vec2<f32>(${hsum('d')}, ${sq('d')});` : `acc += ${sq('a')};`;
  const loop = `for (var c = lid; c < ${u32(C4)}; c += ${u32(WG)}) {
    let a = x[base + c]${branch ? ' + y[base + c]' : ''};${store}
    ${accumulate}
  }`;
  const statistics = layer
    ? `let shift = ${first};
  var acc = vec2<f32>(0.0);
  ${loop}
  let tot = wg_sum(acc, lid) / ${f32(C)};
  let mean = shift + tot.x;
  let rstd = 1.0 / sqrt(max(tot.y - tot.x * tot.x, 0.0) + ${f32(spec.eps)});`
    : `var acc = 0.0;
  ${loop}
  let mean = 0.0;
  let rstd = 1.0 / sqrt(wg_sum(acc, lid) / ${f32(C)} + ${f32(spec.eps)});`;

  const main = g.main(`let base = wg * ${u32(C4)};
  ${statistics}
  for (var c = lid; c < ${u32(C4)}; c += ${u32(WG)}) {
    out[base + c] = (${reload} - ${V}(mean)) * rstd${weight ? ' * weight[c]' : ''}${bias ? ' + bias[c]' : ''};
  }${
    stats
      ? `
  if (lid == 0u) {
    stats[2u * wg] = mean;
    stats[2u * wg + 1u] = rstd;
  }`
      : ''
  }`);
  const formula = layer ? `out = (s − mean(s)) / sqrt(var(s) + ${spec.eps})` : `out = s / sqrt(mean(s²) + ${spec.eps})`;
  return assemble({
    entryPoint,
    fuses: [...(branch ? ['add'] : []), norm],
    shapes: { x: [rows, C] },
    notes: [
      `s = x${branch ? ' + y' : ''}${sumMode === 'separate' ? ' (written to sum)' : sumMode === 'in_place' ? ' (written back to x)' : ''}; ${formula}${weight ? ' · weight' : ''}${bias ? ' + bias' : ''}` +
        `${stats ? '; stats = (mean, rstd)' : ''}`,
      `one workgroup of ${WG} per row, ${w === 4 ? 'vec4' : 'scalar'} loads; ${subgroups ? 'subgroupAdd' : 'tree'} reduction`,
    ],
    bindings: b,
    launch: g,
    flops: rows * C * ((branch ? 1 : 0) + (layer ? 6 : 3) + (weight ? 1 : 0) + (bias ? 1 : 0)),
    ...reduce,
    main,
  });
}
