/**
 * The experts' linears as one grouped matmul over the expert-sorted rows (moe_sort's order):
 *   out[r, o] = Σ_i a[row(r), i] · w[e(r), o, i]  (+ b[e(r), o])
 * e(r) = expert[r]; row(r) = r when a is already sorted (the down projection reads the
 * sorted hidden rows), or order[r] / k when a holds one row per token shared by its k slots
 * (the up and gate projections gather x while they load it, so no gathered copy is stored).
 * One dispatch for all experts, each row costing exactly its own expert's work: no padding.
 * When in and out divide by 4 (register-blocked, tiles.ts): each invocation computes a tile
 * of TM = 4 rows of one expert × 4 outputs, so every weight vec4 it loads serves 4 rows
 * (~4x fewer loads per FMA than one value per invocation; lavapipe pays per lane-load).
 * Otherwise one invocation per output value, vec4 loads along `in` when it divides by 4.
 * FLOPs 2·rows·out·in (+ rows·out with the bias); bytes: a, the weights, out.
 *
 * Stacked weights larger than one storage binding (Mixtral's [8, 14336, 4096] f32 is 1.9 GB)
 * are bound in chunks (`chunk`): one dispatch per chunk — a run of whole experts, or a run of
 * output rows of one expert — sees only its slice of w and writes only its experts' rows and
 * its output columns. Each output value is still one invocation's dot product in the same
 * order, so chunking changes no result bit.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, type Launch, linear, range, u32, vectorized } from '../common.js';
import { tileBound, tileWgsl } from './tiles.js';

/** Rows per register tile. */
export const GROUPED_TM = 4;

export interface GroupedMatmulSpec {
  /** Sorted rows (tokens · top_k). */
  rows: number;
  inDim: number;
  outDim: number;
  experts: number;
  bias: boolean;
  /** a is per token, shared by `gather` consecutive slots (top_k): row(r) = order[r] / gather. Absent: a is sorted already. */
  gather?: number;
  /** Entry point; default 'moe_grouped_matmul'. */
  name?: string;
  /** w is bound as one chunk of the stacked weights (ExpertChunk); absent: the whole [E, out, in]. */
  chunk?: ExpertChunk;
}

/**
 * A slice of stacked expert weights [E, out, in]: experts expert0 … expert0 + experts − 1,
 * and of each its output rows out0 … out0 + outRows − 1 (either every row of several experts,
 * or some rows of one expert), contiguous in the buffer.
 */
export interface ExpertChunk {
  readonly expert0: number;
  readonly experts: number;
  readonly out0: number;
  readonly outRows: number;
}

/** The whole stack as one chunk. */
export const wholeStack = (experts: number, outDim: number): ExpertChunk => ({ expert0: 0, experts, out0: 0, outRows: outDim });

/** The chunk's note for the kernel header. */
const chunkNote = (ch: ExpertChunk, E: number, O: number): string[] =>
  ch.experts === E && ch.outRows === O
    ? []
    : [`w bound as a chunk: experts ${ch.expert0}…${ch.expert0 + ch.experts - 1}, output rows ${ch.out0}…${ch.out0 + ch.outRows - 1}`];

/** Register tiles need in and out to divide by 4. */
export const groupedTiled = (inDim: number, outDim: number): boolean => inDim % 4 === 0 && outDim % 4 === 0;

/** WGSL of the row of `a` that sorted row `r` reads: r itself, or its token order[r] / gather. */
export const aRow = (gather: number | undefined, r: string): string => (gather === undefined ? r : `(order[${r}] / ${u32(gather)})`);

/** The same, for the kernels' notes. */
export const aRowNote = (gather: number | undefined): string => (gather === undefined ? 'r' : `order[r] / ${gather}`);

/** A variant's launch, entry-point body and note (register-tiled or one value per invocation); the generator declares the bindings and assembles. */
export interface GroupedBody {
  lin: Launch;
  main: string;
  note: string;
}

/**
 * Bindings, in order: a [rows / gather or rows, in], w [E, out, in], b [E, out] (bias only),
 * then offsets (u32 [E + 1]) when tiled (groupedTiled) or else expert (u32 [rows]),
 * order (u32 [rows], gather only), out [rows, out].
 */
export function generateGroupedMatmul(spec: GroupedMatmulSpec): WgslKernel {
  const entryPoint = entryName('moe_grouped_matmul', spec.name);
  for (const d of ['rows', 'inDim', 'outDim', 'experts', 'gather'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows: R, inDim: I, outDim: O, experts: E } = spec;
  const k = spec.gather;
  if (k !== undefined && R % k !== 0) throw new Error(`${entryPoint}: rows ${R} are not a multiple of gather ${k}`);
  const ch = spec.chunk ?? wholeStack(E, O);
  const tiled = groupedTiled(I, O);
  checkChunk(entryPoint, ch, E, O, tiled);
  const { V } = vectorized(I);
  const out = tiled ? V : 'f32';
  const aRows = k === undefined ? R : R / k;
  const b = new Bindings(entryPoint).storage('a', 'read', [aRows, I], V).storage('w', 'read', [ch.experts, ch.outRows, I], V);
  if (spec.bias) b.storage('b', 'read', [E, O], out);
  if (tiled) b.storage('offsets', 'read', [E + 1], 'u32');
  else b.storage('expert', 'read', [R], 'u32');
  if (k !== undefined) b.storage('order', 'read', [R], 'u32');
  b.storage('out', 'read_write', [R, O], out);
  const body = (tiled ? tiledForward : perValueForward)(entryPoint, spec, ch);
  const whole = ch.experts === E && ch.outRows === O;
  return assemble({
    entryPoint,
    fuses: ['expert_linear'],
    shapes: { a: [aRows, I], w: [ch.experts, ch.outRows, I], out: [R, O] },
    notes: [
      `out[r] = a[${aRowNote(k)}] · w[e(r)]ᵀ${spec.bias ? ' + b[e(r)]' : ''} over rows sorted by expert, ${whole ? 'all experts in one dispatch' : "this chunk's experts and outputs"}`,
      ...chunkNote(ch, E, O),
      body.note,
    ],
    bindings: b,
    launch: body.lin,
    // A chunk's share of the routed work is data-dependent: FLOPs are counted as if every row were its experts'.
    flops: 2 * R * ch.outRows * I + (spec.bias ? R * ch.outRows : 0),
    main: body.main,
  });
}

/** A chunk inside the stack; register tiles need its output rows in whole fours. */
function checkChunk(entryPoint: string, ch: ExpertChunk, E: number, O: number, tiled: boolean): void {
  const ok =
    ch.expert0 >= 0 &&
    ch.experts >= 1 &&
    ch.expert0 + ch.experts <= E &&
    ch.out0 >= 0 &&
    ch.outRows >= 1 &&
    ch.out0 + ch.outRows <= O &&
    (ch.experts === 1 || (ch.out0 === 0 && ch.outRows === O)) &&
    (!tiled || (ch.out0 % 4 === 0 && ch.outRows % 4 === 0));
  if (!ok) throw new Error(`internal: ${entryPoint}: chunk ${JSON.stringify(ch)} of ${E} experts × ${O} outputs`);
}

/** One invocation per output value, vec4 loads along `in` when it divides by 4. */
function perValueForward(entryPoint: string, spec: GroupedMatmulSpec, ch: ExpertChunk): GroupedBody {
  const { rows: R, inDim: I, outDim: O, experts: E } = spec;
  const { w, units: I4 } = vectorized(I);
  const NO = ch.outRows;
  const lin = linear(entryPoint, R * NO);
  const dot = w === 4 ? 'dot(a[ar + c], w[wr + c])' : 'a[ar + c] * w[wr + c]';
  // Whole: the original kernel text. A chunk: rows of other experts are another dispatch's.
  const whole = ch.experts === E && ch.outRows === O;
  const main = lin.main(`let r = i / ${u32(NO)};
${
  whole
    ? `  let o = i % ${u32(O)};
  let e = expert[r];
  let ar = ${aRow(spec.gather, 'r')} * ${u32(I4)};
  let wr = (e * ${u32(O)} + o) * ${u32(I4)};`
    : `  let o = ${u32(ch.out0)} + i % ${u32(NO)};
  let e = expert[r];
  if (e < ${u32(ch.expert0)} || e >= ${u32(ch.expert0 + ch.experts)}) { return; }
  let ar = ${aRow(spec.gather, 'r')} * ${u32(I4)};
  let wr = ((e - ${u32(ch.expert0)}) * ${u32(NO)} + o - ${u32(ch.out0)}) * ${u32(I4)};`
}
  var s = ${spec.bias ? `b[e * ${u32(O)} + o]` : '0.0'};
  for (var c = 0u; c < ${u32(I4)}; c++) { s += ${dot}; }
  out[${whole ? 'i' : `r * ${u32(O)} + o`}] = s;`);
  return { lin, main, note: `one invocation per output value${w === 4 ? ', vec4 along in' : ''}` };
}

function tiledForward(entryPoint: string, spec: GroupedMatmulSpec, ch: ExpertChunk): GroupedBody {
  const { rows: R, inDim: I, outDim: O, experts: E } = spec;
  const TM = GROUPED_TM;
  const I4 = I / 4;
  const O4 = O / 4;
  // The chunk's output vec4 columns (all O4 when whole); o4 below is the global column.
  const NO4 = ch.outRows / 4;
  const whole = ch.experts === E && ch.outRows === O;
  const lin = linear(entryPoint, tileBound(R, ch.experts, TM) * NO4);
  const js = range(TM);
  const row = (j: number) => aRow(spec.gather, `min(row0 + ${u32(j)}, last)`);
  const main = lin.main(`let tile = i / ${u32(NO4)};
  let o4 = ${whole ? '' : `${u32(ch.out0 / 4)} + `}i % ${u32(NO4)};
  ${tileWgsl(ch.experts, TM, ch.expert0)}
${js
  .map(
    (j) => `  let a${j} = ${row(j)} * ${u32(I4)};
  var acc${j} = vec4<f32>(0.0);`,
  )
  .join('\n')}
  let wb = ${whole ? `(e * ${u32(O)} + o4 * 4u)` : `((e - ${u32(ch.expert0)}) * ${u32(ch.outRows)} + o4 * 4u - ${u32(ch.out0)})`} * ${u32(I4)};
  for (var c = 0u; c < ${u32(I4)}; c++) {
    let w0 = w[wb + c];
    let w1 = w[wb + ${u32(I4)} + c];
    let w2 = w[wb + ${u32(2 * I4)} + c];
    let w3 = w[wb + ${u32(3 * I4)} + c];
${js
  .map(
    (j) => `    let x${j} = a[a${j} + c];
    acc${j} += vec4<f32>(dot(x${j}, w0), dot(x${j}, w1), dot(x${j}, w2), dot(x${j}, w3));`,
  )
  .join('\n')}
  }
${
  spec.bias
    ? `  let bv = b[e * ${u32(O4)} + o4];
`
    : ''
}${js
    .map((j) => `  if (row0 + ${u32(j)} <= last) { out[(row0 + ${u32(j)}) * ${u32(O4)} + o4] = acc${j}${spec.bias ? ' + bv' : ''}; }`)
    .join('\n')}`);
  return { lin, main, note: `register tiles of ${TM} rows of one expert × 4 outputs (vec4 along in); tiles found from offsets` };
}
