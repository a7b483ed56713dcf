/**
 * Token embedding plus an absolute position encoding (plus a segment embedding), one kernel:
 *   out[b, t, :] = (tokens[ids[b, t], :] + pos(offset + t) + segments[segment_ids[b, t], :]) · scale
 * where the segment (token-type, BERT) term is present only with `segments`, and pos is a
 * row of the learned position table or the fixed sinusoidal encoding of
 * "Attention Is All You Need" (interleaved, as the CPU interpreter's `sinusoidal` op):
 *   PE[p, 2i] = sin(p / 10000^(2i/C)),  PE[p, 2i+1] = cos(p / 10000^(2i/C)).
 * ids are i32 (B, T); offset comes from the Step uniform (bound with either kind of positions).
 * One invocation per vec4 (C % 4 == 0) or per value of the output.
 *
 * Sinusoidal precision: the angle p · ω_i reaches thousands of radians, where an f32 product
 * alone is off by ~6e-8·angle (1e-4 rad at p = 2048) and sin of a large f32 argument is not
 * accurate on every GPU. So the kernel works in turns, p · ω_i / 2π, with ω_i / 2π computed in
 * float64 and split into three f32 parts: the first two have 8 significant bits, so p times each
 * is exact for p < 2^16 and its fractional part loses nothing; the third is the f32 rest. The
 * fraction of a turn is then formed to ~1e-7, and sin/cos only ever see |angle| <= π.
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, linear, u32, vectorized } from './common.js';

export interface EmbedSpec {
  B: number;
  T: number;
  C: number;
  /** Rows of the token table (vocabulary size). Ids outside [0, vocab) are clamped into it. */
  vocab: number;
  /** Rows of the learned position table (its context length); absent: no position embedding. Positions past it are clamped. */
  positions?: number;
  /** Add the fixed sinusoidal encoding of offset + t (no table); exclusive with `positions`. Default false. */
  sinusoidal?: boolean;
  /** Rows of the segment (token-type) table; absent: no segment embedding. Segment ids are clamped into it. */
  segments?: number;
  /** Multiplies the result (Gemma scales embeddings by sqrt(C)); default 1. */
  scale?: number;
  /**
   * Rows of the token table per binding when the table is larger than one storage binding
   * may be: bindings tokens, tokens_1, … hold rows [0, R), [R, 2R), … and the kernel picks
   * one by the id's row range. Absent (or >= vocab): one binding for the whole table.
   */
  tableChunkRows?: number;
  /** Entry point; default 'embed'. */
  name?: string;
}

/** Binding names of the token table's chunks: tokens, tokens_1, tokens_2, … */
export const tableChunkName = (i: number, base = 'tokens'): string => (i === 0 ? base : `${base}_${i}`);

/** Rows of each chunk of a [vocab, …] table split every `per` rows. */
export function chunkRows(vocab: number, per: number | undefined): number[] {
  if (!per || per >= vocab) return [vocab];
  return Array.from({ length: Math.ceil(vocab / per) }, (_, i) => Math.min(per, vocab - i * per));
}

/** The largest number <= x (> 0) with `bits` significant bits: p · it is exact in f32 while p < 2^(24 − bits). */
function truncateBits(x: number, bits: number): number {
  if (x === 0) return 0;
  let e = Math.floor(Math.log2(x));
  if (2 ** e > x) e--;
  if (2 ** (e + 1) <= x) e++;
  const q = 2 ** (e - bits + 1);
  return Math.floor(x / q) * q;
}

/**
 * Per frequency i < ceil(C/2): ω_i / 2π = 1 / (2π · 10000^(2i/C)) in float64, as three f32
 * parts [a, b, c] with a + b + c = ω_i / 2π to ~2^-40 relative; a and b have 8 significant bits.
 */
export function sinusoidalTurns(C: number): [number, number, number][] {
  return Array.from({ length: Math.ceil(C / 2) }, (_, i) => {
    const r = 1 / (2 * Math.PI * 10000 ** ((2 * i) / C));
    const a = truncateBits(r, 8);
    const b = truncateBits(r - a, 8);
    return [a, b, Math.fround(r - a - b)];
  });
}

/** WGSL: the table of split frequencies and `sinusoid_angle(p, i)`, the angle of frequency i at position p reduced to [−π, π]. */
function sinusoidalPrelude(C: number): string {
  const turns = sinusoidalTurns(C);
  return `const SIN_TURNS = array<vec3<f32>, ${turns.length}>(${turns.map((t) => `vec3<f32>(${t.map(f32).join(', ')})`).join(', ')});

fn sinusoid_angle(p: f32, i: u32) -> f32 {
  let w = SIN_TURNS[i];
  // p·w.x and p·w.y are exact (8-bit parts, p < 2^16): their fractions, and the sum of those, lose nothing.
  let f = fract(fract(p * w.x) + fract(p * w.y)) + p * w.z;
  return ${f32(2 * Math.PI)} * (f - floor(f + 0.5));
}`;
}

/**
 * Bindings: ids (i32 [B, T]), tokens [vocab, C], positions [positions, C] (learned only),
 * segment_ids (i32 [B, T]) and segments [segments, C] (with segments), out [B, T, C], step
 * (uniform; learned or sinusoidal positions). With tableChunkRows the token table is bound as tokens, tokens_1, … (rows [0, R), [R, 2R), …).
 */
export function generateEmbed(spec: EmbedSpec): WgslKernel {
  const k = 'embed';
  for (const d of ['B', 'T', 'C', 'vocab', 'positions', 'segments'] as const) checkInt(k, d, spec[d]);
  const entryPoint = entryName(k, spec.name);
  const { B, T, C, vocab } = spec;
  const P = spec.positions;
  const S = spec.segments;
  const sin = spec.sinusoidal ?? false;
  if (sin && P) throw new Error(`${k}: learned positions and sinusoidal positions exclude each other`);
  const scale = spec.scale ?? 1;
  const { w, V, units: C4 } = vectorized(C);
  const rows = B * T;

  const chunks = chunkRows(vocab, spec.tableChunkRows);
  const per = chunks[0]!;
  const b = new Bindings(entryPoint).storage('ids', 'read', [B, T], 'i32');
  chunks.forEach((n, i) => b.storage(tableChunkName(i), 'read', [n, C], V));
  if (P) b.storage('positions', 'read', [P, C], V);
  if (S) b.storage('segment_ids', 'read', [B, T], 'i32').storage('segments', 'read', [S, C], V);
  b.storage('out', 'read_write', [B, T, C], V);
  if (P || sin) b.step();

  const lin = linear(entryPoint, rows * C4);
  // vec4 c covers columns 4c..4c+3: the sin and cos of frequencies 2c and 2c + 1.
  const sinusoid =
    w === 4
      ? `
  let p = f32(u_step.offset + row % ${u32(T)});
  let a0 = sinusoid_angle(p, 2u * c);
  let a1 = sinusoid_angle(p, 2u * c + 1u);
  v += vec4<f32>(sin(a0), cos(a0), sin(a1), cos(a1));`
      : `
  let a = sinusoid_angle(f32(u_step.offset + row % ${u32(T)}), c / 2u);
  v += select(cos(a), sin(a), c % 2u == 0u);`;
  const pos = P
    ? `\n  let p = min(u_step.offset + row % ${u32(T)}, ${u32(P - 1)});\n  v += positions[p * ${u32(C4)} + c];`
    : sin
      ? sinusoid
      : '';
  const seg = S ? `\n  v += segments[u32(clamp(segment_ids[row], 0i, ${S - 1}i)) * ${u32(C4)} + c];` : '';
  // A chunked table: the id's row range picks the binding (uniform per row, so no divergence within a vec4 row).
  const gather =
    chunks.length === 1
      ? `var v = tokens[id * ${u32(C4)} + c];`
      : `var v: ${V};\n  ` +
        chunks
          .map((_, i) => {
            const read = `v = ${tableChunkName(i)}[(id - ${u32(i * per)}) * ${u32(C4)} + c];`;
            return i === chunks.length - 1 ? `{ ${read} }` : `if (id < ${u32((i + 1) * per)}) { ${read} }`;
          })
          .join(' else ');
  const main = lin.main(`let row = i / ${u32(C4)};
  let c = i % ${u32(C4)};
  let id = u32(clamp(ids[row], 0i, ${vocab - 1}i));
  ${gather}${pos}${seg}
  out[i] = ${scale === 1 ? 'v' : `v * ${f32(scale)}`};`);
  const outBytes = 4 * rows * C;
  const terms = [
    'tokens[ids[b, t], :]',
    ...(P ? ['positions[offset + t, :]'] : sin ? ['PE(offset + t) (sinusoidal: sin/cos of (offset + t) / 10000^(2i/C), interleaved)'] : []),
    ...(S ? ['segments[segment_ids[b, t], :]'] : []),
  ];
  const fuses = [...(P ? ['embedding', 'embedding', 'add'] : sin ? ['embedding', 'sinusoidal', 'add'] : ['embedding'])];
  if (S) fuses.push('embedding', 'add');
  return assemble({
    entryPoint,
    fuses,
    shapes: {
      ids: [B, T],
      ...Object.fromEntries(chunks.map((n, i) => [tableChunkName(i), [n, C]])),
      ...(P ? { positions: [P, C] } : {}),
      ...(S ? { segment_ids: [B, T], segments: [S, C] } : {}),
      out: [B, T, C],
    },
    notes: [
      `out[b, t, :] = ${terms.length > 1 ? `(${terms.join(' + ')})` : terms[0]}${scale === 1 ? '' : ` · ${scale}`}` +
        `; ids clamped to [0, ${vocab - 1}]${P ? `, positions to ${P - 1}` : ''}${S ? `, segment ids to [0, ${S - 1}]` : ''}` +
        `${P || sin ? '; offset from the Step uniform' : ''}`,
      ...(chunks.length > 1
        ? [`token table bound in ${chunks.length} chunks of ${per} rows (tokens, tokens_1, …), picked by the id's row range`]
        : []),
      `one invocation per ${w === 4 ? 'vec4' : 'value'} of out; bytes count only the table rows gathered` +
        (sin ? '; angles in turns from float64 frequencies split in three f32 parts (exact reduction for positions < 65536)' : ''),
    ],
    bindings: b,
    launch: lin,
    flops: rows * C * ((P ? 1 : 0) + (sin ? 8 : 0) + (S ? 1 : 0) + (scale === 1 ? 0 : 1)),
    bytes: 4 * rows * (S ? 2 : 1) + outBytes * (2 + (P ? 1 : 0) + (S ? 1 : 0)),
    ...(sin ? { prelude: sinusoidalPrelude(C) } : {}),
    main,
  });
}
