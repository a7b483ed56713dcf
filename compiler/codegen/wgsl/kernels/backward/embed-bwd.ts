/**
 * Backward of the token (+ learned position, + segment) embedding (../embed.ts), the
 * transpose of its gather, without atomics:
 *   dtokens[v, :]    (+)= scale · Σ_{(b, t): clamp(ids[b, t]) = v} dout[b, t, :]
 *   dpositions[p, :] (+)= scale · Σ_{t: min(offset + t, P − 1) = p} Σ_b dout[b, t, :]
 *   dsegments[s, :]  (+)= scale · Σ_{(b, t): clamp(segment_ids[b, t]) = s} dout[b, t, :]
 * (ids clamped to [0, vocab − 1] and positions to P − 1 as the forward does; offset from the
 * Step uniform, 0 in training). Every row of each table is written — rows no id or position
 * touched get 0 (or keep what they held with `accumulate`) — so no clearing pass is needed.
 *
 * Deterministic by construction: one invocation per (table row, vec4 or value of C) scans
 * all B·T ids in order and sums the matching rows of dout in that order. The scan costs
 * O(vocab · B·T · C/4) id compares (plus B·T·C loads of dout): right for the small
 * vocabularies of the models trained here, too slow for ~50k-token tables, where the path
 * is a sort-based variant (sort (id, row) pairs, then one segmented sum per distinct id).
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, linear, u32, vectorized } from '../common.js';

export interface EmbedBackwardSpec {
  B: number;
  T: number;
  C: number;
  /** Rows of the token table. */
  vocab: number;
  /** Rows of the learned position table; absent: no position embedding (no dpositions, no step). */
  positions?: number;
  /** Rows of the segment table; absent: no segment embedding (no segment_ids, no dsegments). */
  segments?: number;
  /** The forward's scale (Gemma: sqrt(C)); default 1. */
  scale?: number;
  /**
   * Add into dtokens (and dpositions) instead of overwriting: a tied token table also gets
   * the LM head's weight gradient; and gradient accumulation over micro-batches. Default false.
   */
  accumulate?: boolean;
  /**
   * Write dtokens here (default true). False: only the position and segment tables — the
   * token table's gradient comes from ./embed-bwd-linked.ts (large or chunked tables).
   */
  tokens?: boolean;
  /** Entry point; default 'embed_backward'. */
  name?: string;
}

/**
 * Bindings, in order: ids (i32 [B, T]), dout [B, T, C], dtokens [vocab, C] (read_write),
 * dpositions [positions, C] (read_write; learned positions only), step (uniform; learned
 * positions only), segment_ids (i32 [B, T]) and dsegments [segments, C] (read_write; with segments).
 */
export function generateEmbedBackward(spec: EmbedBackwardSpec): WgslKernel {
  const k = 'embed_backward';
  for (const d of ['B', 'T', 'C', 'vocab', 'positions', 'segments'] as const) checkInt(k, d, spec[d]);
  const entryPoint = entryName(k, spec.name);
  const { B, T, C, vocab } = spec;
  const P = spec.positions;
  const S = spec.segments;
  const scale = spec.scale ?? 1;
  const acc = spec.accumulate ?? false;
  const { w, V, units: C4 } = vectorized(C);
  const rows = B * T;

  const tokens = spec.tokens ?? true;
  if (!tokens && !P && !S) throw new Error(`${entryPoint}: no table to write (tokens: false without positions or segments)`);
  const b = new Bindings(entryPoint);
  if (tokens) b.storage('ids', 'read', [B, T], 'i32');
  b.storage('dout', 'read', [B, T, C], V);
  if (tokens) b.storage('dtokens', 'read_write', [vocab, C], V);
  if (P) b.storage('dpositions', 'read_write', [P, C], V).step();
  if (S) b.storage('segment_ids', 'read', [B, T], 'i32').storage('dsegments', 'read_write', [S, C], V);

  const tokenItems = tokens ? vocab * C4 : 0;
  const positionItems = P ? P * C4 : 0;
  const lin = linear(entryPoint, tokenItems + positionItems + (S ? S * C4 : 0));
  const scaled = (v: string) => (scale === 1 ? v : `${v} * ${f32(scale)}`);
  const store = (out: string, j: string) => `${out}[${j}] = ${acc ? `${out}[${j}] + ` : ''}${scaled('s')};`;
  // Row `j / C4` of a table of `n` rows read by `ids`: the dout rows whose clamped id is it, summed in order.
  const scan = (ids: string, n: number, j: string, out: string, ind: string) => `let id = i32(${j} / ${u32(C4)});
${ind}let c = ${j} % ${u32(C4)};
${ind}var s = ${V}(0.0);
${ind}for (var n = 0u; n < ${u32(rows)}; n++) {
${ind}  if (clamp(${ids}[n], 0i, ${n - 1}i) == id) {
${ind}    s += dout[n * ${u32(C4)} + c];
${ind}  }
${ind}}
${ind}${store(out, j)}`;
  // Segment rows come after the token and position rows; each scans every segment id in order, as token rows do.
  const segments = S
    ? `
  if (i >= ${u32(tokenItems + positionItems)}) {
    let j = i - ${u32(tokenItems + positionItems)};
    ${scan('segment_ids', S, 'j', 'dsegments', '    ')}
    return;
  }`
    : '';
  // Positions: p receives t = p − offset (when 0 <= t < T), and the last row P − 1 also every
  // t whose position the forward clamped to it (offset + t >= P − 1).
  const positions = P
    ? `
  if (i >= ${u32(tokenItems)}) {
    let j = i - ${u32(tokenItems)};
    let p = j / ${u32(C4)};
    let c = j % ${u32(C4)};
    let off = u_step.offset;
    let t0 = select(0u, p - off, p >= off);
    var t1 = select(0u, min(t0 + 1u, ${u32(T)}), p >= off);
    if (p == ${u32(P - 1)}) { t1 = ${u32(T)}; }
    var s = ${V}(0.0);
    for (var t = t0; t < t1; t++) {
      for (var bb = 0u; bb < ${u32(B)}; bb++) {
        s += dout[(bb * ${u32(T)} + t) * ${u32(C4)} + c];
      }
    }
    ${store('dpositions', 'j')}
    return;
  }`
    : '';
  const main = `@compute @workgroup_size(${lin.workgroupSize[0]})
fn ${entryPoint}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${lin.wgsl}${segments}${positions}
  ${tokens ? scan('ids', vocab, 'i', 'dtokens', '  ') : ''}
}`;
  const tableRows = (tokens ? vocab : 0) + (P ?? 0) + (S ?? 0);
  const tables = (tokens ? 1 : 0) + (P ? 1 : 0) + (S ? 1 : 0);
  const op = acc ? '+=' : '=';
  const scaled1 = scale === 1 ? '' : `${scale} · `;
  return assemble({
    entryPoint,
    fuses: Array<string>(tables).fill('embedding_backward'),
    shapes: {
      ...(tokens ? { ids: [B, T], dtokens: [vocab, C] } : {}),
      dout: [B, T, C],
      ...(P ? { dpositions: [P, C] } : {}),
      ...(S ? { segment_ids: [B, T], dsegments: [S, C] } : {}),
    },
    notes: [
      (tokens
        ? `backward of embed: dtokens[v] ${op} ${scaled1}Σ dout rows whose id is v (ids clamped to [0, ${vocab - 1}])`
        : 'backward of embed (position and segment tables)') +
        `${P ? `; dpositions[p] ${op} ${scaled1}Σ_b dout[b, p − offset] (positions clamped to ${P - 1}; offset from the Step uniform)` : ''}` +
        `${S ? `; dsegments[s] ${op} ${scaled1}Σ dout rows whose segment id is s (clamped to [0, ${S - 1}])` : ''}`,
      `one invocation per (table row, ${w === 4 ? 'vec4' : 'value'}); token${S ? ' and segment' : ''} rows scan all ${rows} ids in order: O(${S ? '(vocab + segments)' : 'vocab'}·B·T·C/${w}) compares, deterministic, no atomics`,
    ],
    bindings: b,
    launch: lin,
    flops: rows * C * tables + tableRows * C * ((scale === 1 ? 0 : 1) + (acc ? 1 : 0)),
    bytes: 4 * rows * ((tokens ? 1 : 0) + (S ? 1 : 0)) + 4 * rows * C * tables + 4 * tableRows * C * (acc ? 2 : 1),
    main,
  });
}
