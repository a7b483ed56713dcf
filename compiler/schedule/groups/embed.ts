/**
 * embed: the token-table gather plus the absolute position encoding, one kernel:
 * embedding(tokens) + embedding(positions) (a learned table) or embedding(tokens) +
 * sinusoidal(positions) (computed in the kernel from offset + t), plus BERT's segment
 * (token-type) embedding when the model has one → out. Backward: a deterministic scatter-add
 * into the token table (and the learned position and segment tables), no float atomics; the
 * sinusoidal encoding has no parameters, so it adds nothing to the backward.
 */
import { generateEmbedBackward } from '../../codegen/wgsl/kernels/backward/embed-bwd.js';
import { generateEmbedLinks, generateEmbedRowsBackward } from '../../codegen/wgsl/kernels/backward/embed-bwd-linked.js';
import { generateEmbed, tableChunkName } from '../../codegen/wgsl/kernels/embed.js';
import { rowChunks, type RowChunk } from '../chunks.js';
import type { GroupModule, PlanContext } from '../context.js';

export interface EmbedGroup {
  readonly kind: 'embed';
  readonly out: number;
  readonly ids: number;
  readonly table: number;
  readonly posTable: number | null;
  /** The fixed sinusoidal encoding is added (never with a posTable). */
  readonly sinusoidal: boolean;
  /** The segment table [segments, C] and the i32 segment ids (B, T) it is read with; null: no segments. */
  readonly segments: { readonly table: number; readonly ids: number } | null;
  readonly scope: string;
}

function dims(c: PlanContext, g: EmbedGroup) {
  const [V, C] = c.graph.values[g.table]!.type.shape as number[];
  const positions = g.posTable === null ? undefined : (c.graph.values[g.posTable]!.type.shape[0] as number);
  const segments = g.segments === null ? undefined : (c.graph.values[g.segments.table]!.type.shape[0] as number);
  // Rows per batch entry from the ids: S for an encoder–decoder's encoder, T otherwise.
  const T = c.P.dims(g.ids)[1]!;
  return { B: c.B, T, C: C!, vocab: V!, ...(positions ? { positions } : {}), ...(segments ? { segments } : {}) };
}

/**
 * Row chunks of the [vocab, C] token table, one when it fits a binding. One whole chunk too when
 * it cannot be split into at most `most` bindings (kernels declare at most 8 storage buffers):
 * compile-model then reports the binding as MS4002.
 */
export function tableChunks(c: PlanContext, vocab: number, C: number, most: number): RowChunk[] {
  const chunks = rowChunks(vocab, 4 * C, c.maxBinding, c.bindAlign);
  return chunks && chunks.length <= most ? chunks : [{ row0: 0, rows: vocab, range: { offset: 0, size: 4 * vocab * C } }];
}

/**
 * Above this many rows the token table's gradient walks linked lists of positions (two
 * dispatches, ~vocab·B·T compares) instead of scanning every id per (row, vec4) (one
 * dispatch, vocab·B·T·C/4 compares): the scan is cheaper only for small vocabularies.
 */
const LINKED_VOCAB = 4096;

export const embed: GroupModule<EmbedGroup> = {
  forward(c, g) {
    const { P } = c;
    const spec = dims(c, g);
    const table = P.buf(g.table);
    // A table larger than one storage binding is bound as several row ranges of its buffer.
    // The other storage bindings: ids, out, a position table, segment ids and table.
    const others = 2 + (g.posTable !== null ? 1 : 0) + (g.segments !== null ? 2 : 0);
    const chunks = tableChunks(c, spec.vocab, spec.C, 8 - others);
    const tokens = Object.fromEntries(chunks.map((_, i) => [tableChunkName(i), table]));
    const ranges = chunks.length > 1 ? Object.fromEntries(chunks.map((ch, i) => [tableChunkName(i), ch.range])) : undefined;
    P.emit(
      generateEmbed({ ...spec, sinusoidal: g.sinusoidal, ...(chunks.length > 1 ? { tableChunkRows: chunks[0]!.rows } : {}) }),
      {
        ids: P.buf(g.ids),
        ...tokens,
        ...(g.posTable !== null ? { positions: P.buf(g.posTable) } : {}),
        ...(g.segments !== null ? { segment_ids: P.buf(g.segments.ids), segments: P.buf(g.segments.table) } : {}),
        out: P.buf(g.out),
      },
      g.scope,
      {},
      ranges,
    );
  },
  backward(c, d, g) {
    const { P } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    const spec = dims(c, g);
    const table = P.buf(g.table);
    // A tied table already holds the LM head's gradient: the scatter adds into it.
    const existing = d.of(table);
    const dTable = existing ?? P.scratch(d.name(table), [spec.vocab, spec.C]);
    // Large tables (and any bound in chunks): linked lists of each row's positions, then one
    // dispatch per chunk of rows walks them (embed-bwd-linked.ts); small ones: the scan kernel.
    const chunks = rowChunks(spec.vocab, 4 * spec.C, c.maxBinding, c.bindAlign);
    const linked = spec.vocab > LINKED_VOCAB || !chunks || chunks.length > 1;
    if (linked) {
      const rows = spec.B * spec.T;
      const first = P.scratchU32(`embed.first:${table}`, spec.vocab);
      const next = P.scratchU32(`embed.next:${table}`, rows);
      P.emit(generateEmbedLinks({ rows, vocab: spec.vocab }), { ids: P.buf(g.ids), first, next }, g.scope);
      for (const ch of chunks ?? [{ row0: 0, rows: spec.vocab, range: { offset: 0, size: 4 * spec.vocab * spec.C } }]) {
        const k = generateEmbedRowsBackward({
          rows,
          C: spec.C,
          row0: ch.row0,
          count: ch.rows,
          vocab: spec.vocab,
          accumulate: existing !== undefined,
        });
        const ranges = chunks && chunks.length > 1 ? { dtokens: ch.range } : undefined;
        P.emit(k, { first, next, dout: dOut, dtokens: dTable }, g.scope, {}, ranges);
      }
    }
    const bind: Record<string, string> = linked ? { dout: dOut } : { ids: P.buf(g.ids), dout: dOut, dtokens: dTable };
    if (g.posTable !== null) {
      const pos = P.buf(g.posTable);
      const dp = P.scratch(d.name(pos), P.buffers.get(pos)!.shape);
      bind.dpositions = dp;
      d.set(pos, dp);
    }
    if (g.segments !== null) {
      const seg = P.buf(g.segments.table);
      const ds = P.scratch(d.name(seg), P.buffers.get(seg)!.shape);
      bind.segment_ids = P.buf(g.segments.ids);
      bind.dsegments = ds;
      d.set(seg, ds);
    }
    if (!linked || g.posTable !== null || g.segments !== null)
      P.emit(generateEmbedBackward({ ...spec, accumulate: existing !== undefined, tokens: !linked }), bind, g.scope);
    d.set(table, dTable);
  },
};
