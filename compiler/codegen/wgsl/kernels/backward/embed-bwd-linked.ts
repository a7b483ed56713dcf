/**
 * The token table's gradient for large vocabularies (and tables bound in chunks), without
 * atomics and without ./embed-bwd.ts's scan of every id for every (row, vec4) — which costs
 * vocab · B·T · C/4 compares, ~10¹⁰ for GPT-2's 50,257 rows at 1,024 tokens. Two kernels:
 *   links — one invocation per table row v walks the B·T ids in order once and threads a
 *           list through the positions holding v: first[v] = 1 + the first such position
 *           (0: none), next[n] = 1 + the next position after n with the same id (0: last).
 *           vocab · B·T compares, C/4 times fewer, and every entry has exactly one writer.
 *   rows  — one invocation per (row, vec4) of a chunk of the table walks its row's list:
 *           dtokens[v] (+)= scale · Σ dout[n] over the positions n holding v, in increasing n.
 * The sum runs in the scan kernel's order, so the two give the same bits.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, f32, linear, u32, vectorized } from '../common.js';

/** Bindings: ids (i32 [B, T]), first (u32 [vocab], read_write), next (u32 [B·T], read_write). */
export function generateEmbedLinks(spec: { rows: number; vocab: number }): WgslKernel {
  const entryPoint = 'embed_links';
  for (const d of ['rows', 'vocab'] as const) checkInt(entryPoint, d, spec[d]);
  const { rows, vocab } = spec;
  const b = new Bindings(entryPoint)
    .storage('ids', 'read', [rows], 'i32')
    .storage('first', 'read_write', [vocab], 'u32')
    .storage('next', 'read_write', [rows], 'u32');
  const lin = linear(entryPoint, vocab);
  return assemble({
    entryPoint,
    fuses: ['embedding_backward'],
    shapes: { ids: [rows], first: [vocab] },
    notes: [
      `first[v] = 1 + the first position whose id (clamped to [0, ${vocab - 1}]) is v, next[n] = 1 + the next position with n's id (0: none)`,
      `one invocation per table row, ids walked in order: ${vocab}·${rows} compares; every entry written by one invocation`,
    ],
    bindings: b,
    launch: lin,
    flops: vocab * rows,
    bytes: 4 * (vocab * rows + vocab + rows),
    main: lin.main(`let v = i32(i);
  var head = 0u;
  var prev = 0u;  // 1 + the last position seen holding v
  for (var n = 0u; n < ${u32(rows)}; n++) {
    if (clamp(ids[n], 0i, ${vocab - 1}i) == v) {
      if (prev == 0u) { head = n + 1u; } else { next[prev - 1u] = n + 1u; }
      prev = n + 1u;
    }
  }
  if (prev != 0u) { next[prev - 1u] = 0u; }
  first[i] = head;`),
  });
}

export interface EmbedRowsBackwardSpec {
  /** Positions (B·T) and the width of a row. */
  rows: number;
  C: number;
  /** The first table row this dispatch writes and how many (a chunk of the table). */
  row0: number;
  count: number;
  /** Rows of the whole table (first[] is indexed by the global row). */
  vocab: number;
  scale?: number;
  /** Add into dtokens (a tied table holding the head's gradient already). Default false. */
  accumulate?: boolean;
}

/** Bindings: first (u32 [vocab]), next (u32 [rows]), dout [rows, C], dtokens [count, C] (read_write: this chunk's rows). */
export function generateEmbedRowsBackward(spec: EmbedRowsBackwardSpec): WgslKernel {
  const entryPoint = 'embed_rows_backward';
  for (const d of ['rows', 'C', 'count', 'vocab'] as const) checkInt(entryPoint, d, spec[d]);
  checkInt(entryPoint, 'row0', spec.row0, 0);
  const { rows, C, row0, count, vocab } = spec;
  if (row0 + count > vocab) throw new Error(`${entryPoint}: rows ${row0}..${row0 + count - 1} exceed the table's ${vocab}`);
  const scale = spec.scale ?? 1;
  const acc = spec.accumulate ?? false;
  const { w, V, units: C4 } = vectorized(C);
  const b = new Bindings(entryPoint)
    .storage('first', 'read', [vocab], 'u32')
    .storage('next', 'read', [rows], 'u32')
    .storage('dout', 'read', [rows, C], V)
    .storage('dtokens', 'read_write', [count, C], V);
  const lin = linear(entryPoint, count * C4);
  const value = scale === 1 ? 's' : `s * ${f32(scale)}`;
  return assemble({
    entryPoint,
    fuses: ['embedding_backward'],
    shapes: { dout: [rows, C], dtokens: [count, C] },
    notes: [
      `dtokens[v] ${acc ? '+=' : '='} ${scale === 1 ? '' : `${scale} · `}Σ dout[n] over the positions holding v, for table rows ${row0}..${row0 + count - 1} (embed_links' lists, in increasing n)`,
      `one invocation per (table row, ${w === 4 ? 'vec4' : 'value'}); deterministic, no atomics`,
    ],
    bindings: b,
    launch: lin,
    flops: rows * C + count * C * (acc ? 1 : 0),
    bytes: 4 * (rows * C + count * C * (acc ? 2 : 1) + count + rows),
    main: lin.main(`let c = i % ${u32(C4)};
  var n = first[${u32(row0)} + i / ${u32(C4)}];
  var s = ${V}(0.0);
  while (n != 0u) {
    s += dout[(n - 1u) * ${u32(C4)} + c];
    n = next[n - 1u];
  }
  dtokens[i] = ${acc ? `dtokens[i] + ${value}` : value};`),
  });
}
