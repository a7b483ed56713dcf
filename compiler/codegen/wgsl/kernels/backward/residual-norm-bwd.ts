/**
 * Backward of the normalisation in residual_norm (../residual-norm.ts), from the statistics
 * the forward saved (its `stats` output, (mean, rstd) per row; mean is 0 for rmsnorm):
 *   x̂ = (x − mean)·rstd,  g = dout · weight          (g = dout without a weight)
 *   layernorm: dx = rstd · (g − mean(g) − x̂ · mean(g · x̂))
 *   rmsnorm:   dx = rstd · (g − x̂ · mean(g · x̂))
 * x is the normalised input (the residual sum s = x + y of the forward; with a branch both x
 * and y receive this same gradient). `accumulate` adds the residual gradient that flows
 * straight past the norm: dx = dresid + ∂, from a separate read input or in place.
 *
 * The parameter gradients are a reduction over rows, done by a second kernel without atomics
 * (generateNormParamGrad): one invocation per column (vec4 of columns) looping over the rows
 * in order, so every run sums in the same order:
 *   dweight[c] = Σ_r dout[r, c] · x̂[r, c],  dbias[c] = Σ_r dout[r, c].
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, linear, u32, vectorized } from '../common.js';
import { normRows, type NormKind, type NormRowSpec } from '../residual-norm.js';

/** The forward's fields (eps is already inside the saved rstd: only the header shows it); entry point default 'residual_norm_backward'. */
export interface ResidualNormBackwardSpec extends NormRowSpec {
  /** The forward multiplied by a weight (C). Default true. */
  weight?: boolean;
  /** The forward added a bias: dx does not depend on it (accepted so the forward's flags can be passed as they are). */
  bias?: boolean;
  /**
   * Add the residual gradient: true reads it from `dresid` [rows, C] and writes dx = dresid + ∂;
   * 'in_place' makes dx read_write and adds ∂ to what it holds. Default false: dx = ∂.
   */
  accumulate?: boolean | 'in_place';
}

/**
 * Bindings, in order: x [rows, C], stats [rows, 2], weight [C] (with a weight), dout [rows, C],
 * dresid [rows, C] (accumulate: true), dx [rows, C] (read_write).
 */
export function generateResidualNormBackward(spec: ResidualNormBackwardSpec): WgslKernel {
  const entryPoint = entryName('residual_norm_backward', spec.name);
  const { w, V, C4, WG, layer, subgroups, g, hsum, reduce } = normRows(entryPoint, spec);
  const { rows, C, norm } = spec;
  const weight = spec.weight ?? true;
  const acc = spec.accumulate ?? false;

  const b = new Bindings(entryPoint).storage('x', 'read', [rows, C], V).storage('stats', 'read', [rows, 2]);
  if (weight) b.storage('weight', 'read', [C], V);
  b.storage('dout', 'read', [rows, C], V);
  if (acc === true) b.storage('dresid', 'read', [rows, C], V);
  b.storage('dx', 'read_write', [rows, C], V);

  const dotp = (a: string, e: string) => (w === 4 ? `dot(${a}, ${e})` : `${a} * ${e}`);
  const load = `let g = dout[base + c]${weight ? ' * weight[c]' : ''};
    let xh = (x[base + c]${layer ? ` - ${V}(mean)` : ''}) * rstd;`;
  const sums = layer ? `acc += vec2<f32>(${hsum('g')}, ${dotp('g', 'xh')});` : `acc += ${dotp('g', 'xh')};`;
  const grad = layer ? `(g - ${V}(m.x) - xh * m.y) * rstd` : '(g - xh * m) * rstd';
  const into = acc === true ? `dresid[base + c] + ${grad}` : acc === 'in_place' ? `dx[base + c] + ${grad}` : grad;
  const main = g.main(`let base = wg * ${u32(C4)};${layer ? '\n  let mean = stats[2u * wg];' : ''}
  let rstd = stats[2u * wg + 1u];
  var acc = ${layer ? 'vec2<f32>' : 'f32'}(0.0);
  for (var c = lid; c < ${u32(C4)}; c += ${u32(WG)}) {
    ${load}
    ${sums}
  }
  let m = wg_sum(acc, lid) / ${f32(C)};
  for (var c = lid; c < ${u32(C4)}; c += ${u32(WG)}) {
    ${load}
    dx[base + c] = ${into};
  }`);
  const formula = layer ? 'dx = rstd·(g − mean(g) − x̂·mean(g·x̂))' : 'dx = rstd·(g − x̂·mean(g·x̂))';
  return assemble({
    entryPoint,
    fuses: [`${norm}_backward`],
    shapes: { x: [rows, C], stats: [rows, 2], dout: [rows, C] },
    notes: [
      `backward of ${norm} (eps ${spec.eps}, inside the saved rstd): x̂ = ${layer ? '(x − mean)·rstd' : 'x·rstd'}, g = dout${weight ? '·weight' : ''}; ${formula}` +
        `${acc === true ? '; dx = dresid + that' : acc === 'in_place' ? '; added to dx in place' : ''}`,
      `one workgroup of ${WG} per row, ${w === 4 ? 'vec4' : 'scalar'} loads; ${subgroups ? 'subgroupAdd' : 'tree'} reduction; x and dout read twice (FLOPs count both passes)`,
    ],
    bindings: b,
    launch: g,
    flops: rows * C * (2 * ((weight ? 1 : 0) + (layer ? 2 : 1)) + (layer ? 3 : 2) + (layer ? 4 : 3) + (acc ? 1 : 0)),
    ...reduce,
    main,
  });
}

export interface NormParamGradSpec {
  rows: number;
  C: number;
  norm: NormKind;
  /** Write dweight (the forward had a weight). Default true. */
  weight?: boolean;
  /** Write dbias (the forward had a bias). Default false. */
  bias?: boolean;
  /** Add to dweight / dbias instead of overwriting them (gradient accumulation). Default false. */
  accumulate?: boolean;
  /** Entry point; default 'norm_param_grad'. */
  name?: string;
}

/**
 * Bindings, in order: x [rows, C] and stats [rows, 2] (with a weight), dout [rows, C],
 * dweight [C] (with a weight), dbias [C] (with a bias).
 */
export function generateNormParamGrad(spec: NormParamGradSpec): WgslKernel {
  const entryPoint = entryName('norm_param_grad', spec.name);
  for (const d of ['rows', 'C'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows, C, norm } = spec;
  const weight = spec.weight ?? true,
    bias = spec.bias ?? false,
    acc = spec.accumulate ?? false;
  if (!weight && !bias) throw new Error(`${entryPoint}: nothing to compute (no weight and no bias)`);
  const { w, V, units: C4 } = vectorized(C);
  const layer = norm === 'layernorm';

  const b = new Bindings(entryPoint);
  if (weight) b.storage('x', 'read', [rows, C], V).storage('stats', 'read', [rows, 2]);
  b.storage('dout', 'read', [rows, C], V);
  if (weight) b.storage('dweight', 'read_write', [C], V);
  if (bias) b.storage('dbias', 'read_write', [C], V);

  const lin = linear(entryPoint, C4);
  const body = [
    '    let d = dout[r * ' + u32(C4) + ' + i];',
    ...(weight ? [`    dw += d * (x[r * ${u32(C4)} + i]${layer ? ` - ${V}(stats[2u * r])` : ''}) * stats[2u * r + 1u];`] : []),
    ...(bias ? ['    db += d;'] : []),
  ].join('\n');
  const store = (out: string, v: string) => `\n  ${out}[i] = ${acc ? `${out}[i] + ` : ''}${v};`;
  const init = [...(weight ? [`var dw = ${V}(0.0);`] : []), ...(bias ? [`var db = ${V}(0.0);`] : [])];
  const main = lin.main(`${init.join('\n  ')}
  for (var r = 0u; r < ${u32(rows)}; r++) {
${body}
  }${weight ? store('dweight', 'dw') : ''}${bias ? store('dbias', 'db') : ''}`);
  return assemble({
    entryPoint,
    fuses: [`${norm}_backward`],
    shapes: { dout: [rows, C], ...(weight ? { x: [rows, C] } : {}) },
    notes: [
      `parameter gradients of ${norm}: ${[weight ? 'dweight = Σ_r dout·x̂' : '', bias ? 'dbias = Σ_r dout' : ''].filter(Boolean).join(', ')}` +
        `${weight ? `, x̂ = ${layer ? '(x − mean)·rstd' : 'x·rstd'} from stats` : ''}${acc ? '; added to what they hold' : ''}`,
      `one invocation per ${w === 4 ? 'vec4' : 'value'} of columns, rows summed in order (deterministic, no atomics)`,
    ],
    bindings: b,
    launch: lin,
    flops: rows * C * ((weight ? (layer ? 4 : 3) : 0) + (bias ? 1 : 0)) + (acc ? C * ((weight ? 1 : 0) + (bias ? 1 : 0)) : 0),
    main,
  });
}
