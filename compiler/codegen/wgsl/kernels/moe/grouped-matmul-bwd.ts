/**
 * Backward of the grouped matmul (grouped-matmul.ts) over the expert-sorted rows:
 *   dA:  da[r, i] (+)= Σ_o dout[r, o] · w[e(r), o, i]                  one invocation per value
 *   dW:  dw[e, o, i] = Σ_{r ∈ e} dout[r, o] · a[row(r), i]             one invocation per weight
 *   db:  db[e, o]    = Σ_{r ∈ e} dout[r, o]                             one invocation per bias
 * The rows of expert e are offsets[e] … offsets[e + 1] − 1 (moe_sort), summed in increasing
 * order by one invocation: deterministic, no atomics, and one dispatch for all experts
 * whatever their loads. row(r) = order[r] / k when a is the per-token input (up and gate).
 * When in and out divide by 4 the kernels are register-blocked: dA in tiles of TM rows of one
 * expert × a vec4 of `in` (tiles.ts), dW in 4 × 4 blocks (4 outputs × a vec4 of `in`), so
 * each loaded vec4 feeds the products of 4 rows (or 4 outputs) instead of one; otherwise one
 * value per invocation (lavapipe, tiny-mixtral shapes: 3-6 GFLOP/s tiled vs 0.6-1.0 untiled).
 * FLOPs 2·rows·out·in each for dA and dW, rows·out for db.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, range, u32 } from '../common.js';
import { aRow, aRowNote, GROUPED_TM, type GroupedBody, groupedTiled } from './grouped-matmul.js';
import { tileBound, tileWgsl } from './tiles.js';

export interface GroupedMatmulDxSpec {
  rows: number;
  inDim: number;
  outDim: number;
  experts: number;
  /** Add to da instead of overwriting it (the gate projection's dX onto the up projection's). Default false. */
  accumulate?: boolean;
  /** Entry point; default 'moe_grouped_dx'. */
  name?: string;
}

/**
 * Bindings, in order: dout [rows, out], w [E, out, in], offsets (u32 [E + 1]) when tiled
 * (groupedTiled) or else expert (u32 [rows]), da [rows, in] (read_write).
 */
export function generateGroupedMatmulDx(spec: GroupedMatmulDxSpec): WgslKernel {
  const entryPoint = entryName('moe_grouped_dx', spec.name);
  for (const d of ['rows', 'inDim', 'outDim', 'experts'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows: R, inDim: I, outDim: O, experts: E } = spec;
  const acc = spec.accumulate ?? false;
  const tiled = groupedTiled(I, O);
  const V = tiled ? 'vec4<f32>' : 'f32';
  const b = new Bindings(entryPoint).storage('dout', 'read', [R, O], V).storage('w', 'read', [E, O, I], V);
  if (tiled) b.storage('offsets', 'read', [E + 1], 'u32');
  else b.storage('expert', 'read', [R], 'u32');
  b.storage('da', 'read_write', [R, I], V);
  const body = (tiled ? tiledDx : perValueDx)(entryPoint, spec);
  return assemble({
    entryPoint,
    fuses: ['expert_linear_backward'],
    shapes: { dout: [R, O], w: [E, O, I], da: [R, I] },
    notes: [`da[r] ${acc ? '+=' : '='} dout[r] · w[e(r)] over rows sorted by expert`, body.note],
    bindings: b,
    launch: body.lin,
    flops: 2 * R * O * I + (acc ? R * I : 0),
    main: body.main,
  });
}

function perValueDx(entryPoint: string, spec: GroupedMatmulDxSpec): GroupedBody {
  const { rows: R, inDim: I, outDim: O } = spec;
  const lin = linear(entryPoint, R * I);
  const main = lin.main(`let r = i / ${u32(I)};
  let c = i % ${u32(I)};
  let wb = expert[r] * ${u32(O * I)} + c;
  let db = r * ${u32(O)};
  var s = 0.0;
  for (var o = 0u; o < ${u32(O)}; o++) { s += dout[db + o] * w[wb + o * ${u32(I)}]; }
  da[i] = ${spec.accumulate ? 'da[i] + s' : 's'};`);
  return { lin, main, note: 'one invocation per value' };
}

export interface GroupedMatmulDwSpec {
  rows: number;
  inDim: number;
  outDim: number;
  experts: number;
  /** a is per token, shared by `gather` consecutive slots: row(r) = order[r] / gather. Absent: a is sorted. */
  gather?: number;
  /** Entry point; default 'moe_grouped_dw'. */
  name?: string;
}

/**
 * Bindings, in order: dout [rows, out], a [rows / gather or rows, in], offsets (u32 [E + 1]),
 * order (u32 [rows], gather only), dw [E, out, in] (read_write).
 */
export function generateGroupedMatmulDw(spec: GroupedMatmulDwSpec): WgslKernel {
  const entryPoint = entryName('moe_grouped_dw', spec.name);
  for (const d of ['rows', 'inDim', 'outDim', 'experts', 'gather'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows: R, inDim: I, outDim: O, experts: E } = spec;
  const k = spec.gather;
  const tiled = groupedTiled(I, O);
  const V = tiled ? 'vec4<f32>' : 'f32';
  const aRows = k === undefined ? R : R / k;
  const b = new Bindings(entryPoint)
    .storage('dout', 'read', [R, O], V)
    .storage('a', 'read', [aRows, I], V)
    .storage('offsets', 'read', [E + 1], 'u32');
  if (k !== undefined) b.storage('order', 'read', [R], 'u32');
  b.storage('dw', 'read_write', [E, O, I], V);
  const body = (tiled ? tiledDw : perValueDw)(entryPoint, spec);
  return assemble({
    entryPoint,
    fuses: ['expert_linear_backward'],
    shapes: { dout: [R, O], a: [aRows, I], dw: [E, O, I] },
    notes: [`dw[e] = Σ over expert e's sorted rows of dout[r]ᵀ · a[${aRowNote(k)}]`, body.note],
    bindings: b,
    launch: body.lin,
    flops: 2 * R * O * I,
    main: body.main,
  });
}

function perValueDw(entryPoint: string, spec: GroupedMatmulDwSpec): GroupedBody {
  const { inDim: I, outDim: O, experts: E } = spec;
  const lin = linear(entryPoint, E * O * I);
  const main = lin.main(`let e = i / ${u32(O * I)};
  let o = (i / ${u32(I)}) % ${u32(O)};
  let c = i % ${u32(I)};
  var s = 0.0;
  for (var r = offsets[e]; r < offsets[e + 1u]; r++) {
    s += dout[r * ${u32(O)} + o] * a[${aRow(spec.gather, 'r')} * ${u32(I)} + c];
  }
  dw[i] = s;`);
  return { lin, main, note: "one invocation per weight, looping its expert's rows in order (deterministic, no atomics)" };
}

export interface GroupedBiasGradSpec {
  rows: number;
  outDim: number;
  experts: number;
  /** Entry point; default 'moe_grouped_db'. */
  name?: string;
}

/** Bindings, in order: dout [rows, out], offsets (u32 [E + 1]), db [E, out] (read_write). */
export function generateGroupedBiasGrad(spec: GroupedBiasGradSpec): WgslKernel {
  const entryPoint = entryName('moe_grouped_db', spec.name);
  for (const d of ['rows', 'outDim', 'experts'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows: R, outDim: O, experts: E } = spec;
  const b = new Bindings(entryPoint)
    .storage('dout', 'read', [R, O])
    .storage('offsets', 'read', [E + 1], 'u32')
    .storage('db', 'read_write', [E, O]);
  const lin = linear(entryPoint, E * O);
  const main = lin.main(`let e = i / ${u32(O)};
  let o = i % ${u32(O)};
  var s = 0.0;
  for (var r = offsets[e]; r < offsets[e + 1u]; r++) { s += dout[r * ${u32(O)} + o]; }
  db[i] = s;`);
  return assemble({
    entryPoint,
    fuses: ['expert_linear_backward'],
    shapes: { dout: [R, O], db: [E, O] },
    notes: ["db[e] = column sums of dout over expert e's sorted rows, in order; one invocation per bias value"],
    bindings: b,
    launch: lin,
    flops: R * O,
    main,
  });
}

function tiledDx(entryPoint: string, spec: GroupedMatmulDxSpec): GroupedBody {
  const { rows: R, inDim: I, outDim: O, experts: E } = spec;
  const acc = spec.accumulate ?? false;
  const TM = GROUPED_TM;
  const I4 = I / 4;
  const O4 = O / 4;
  const lin = linear(entryPoint, tileBound(R, E, TM) * I4);
  const js = range(TM);
  const main = lin.main(`let tile = i / ${u32(I4)};
  let i4 = i % ${u32(I4)};
  ${tileWgsl(E, TM)}
${js.map((j) => `  let d${j} = min(row0 + ${u32(j)}, last) * ${u32(O4)};\n  var acc${j} = vec4<f32>(0.0);`).join('\n')}
  let wb = e * ${u32(O * I4)} + i4;
  for (var c = 0u; c < ${u32(O4)}; c++) {
    let w0 = w[wb + (4u * c) * ${u32(I4)}];
    let w1 = w[wb + (4u * c + 1u) * ${u32(I4)}];
    let w2 = w[wb + (4u * c + 2u) * ${u32(I4)}];
    let w3 = w[wb + (4u * c + 3u) * ${u32(I4)}];
${js.map((j) => `    let g${j} = dout[d${j} + c];\n    acc${j} += g${j}.x * w0 + g${j}.y * w1 + g${j}.z * w2 + g${j}.w * w3;`).join('\n')}
  }
${js
  .map((j) => {
    const at = `(row0 + ${u32(j)}) * ${u32(I4)} + i4`;
    return `  if (row0 + ${u32(j)} <= last) { da[${at}] = ${acc ? `da[${at}] + ` : ''}acc${j}; }`;
  })
  .join('\n')}`);
  return { lin, main, note: `register tiles of ${TM} rows of one expert × a vec4 of in; tiles found from offsets` };
}

function tiledDw(entryPoint: string, spec: GroupedMatmulDwSpec): GroupedBody {
  const { inDim: I, outDim: O, experts: E } = spec;
  const I4 = I / 4;
  const O4 = O / 4;
  const lin = linear(entryPoint, E * O4 * I4);
  const cs = [0, 1, 2, 3];
  const main = lin.main(`let e = i / ${u32(O4 * I4)};
  let o4 = (i / ${u32(I4)}) % ${u32(O4)};
  let i4 = i % ${u32(I4)};
${cs.map((c) => `  var acc${c} = vec4<f32>(0.0);`).join('\n')}
  for (var r = offsets[e]; r < offsets[e + 1u]; r++) {
    let g = dout[r * ${u32(O4)} + o4];
    let x = a[${aRow(spec.gather, 'r')} * ${u32(I4)} + i4];
${cs.map((c) => `    acc${c} += g.${'xyzw'[c]} * x;`).join('\n')}
  }
${cs.map((c) => `  dw[(e * ${u32(O)} + o4 * 4u + ${u32(c)}) * ${u32(I4)} + i4] = acc${c};`).join('\n')}`);
  return {
    lin,
    main,
    note: "each invocation a 4 × 4 block (4 outputs × a vec4 of in), looping its expert's rows in order (deterministic, no atomics)",
  };
}
