/**
 * embed: the token-table gather plus the absolute position encoding, one kernel:
 * embedding(tokens) + embedding(positions) (a learned table) or embedding(tokens) +
 * sinusoidal(positions) (computed in the kernel from offset + t) → out. Backward: a
 * deterministic scatter-add into the token table (and the learned position table), no float
 * atomics; the sinusoidal encoding has no parameters, so it adds nothing to the backward.
 */
import { generateEmbedBackward } from '../../codegen/wgsl/kernels/backward/embed-bwd.js';
import { generateEmbed } from '../../codegen/wgsl/kernels/embed.js';
import type { GroupModule, PlanContext } from '../context.js';

export interface EmbedGroup {
  readonly kind: 'embed';
  readonly out: number;
  readonly ids: number;
  readonly table: number;
  readonly posTable: number | null;
  /** The fixed sinusoidal encoding is added (never with a posTable). */
  readonly sinusoidal: boolean;
  readonly scope: string;
}

function dims(c: PlanContext, g: EmbedGroup) {
  const [V, C] = c.graph.values[g.table]!.type.shape as number[];
  const positions = g.posTable === null ? undefined : (c.graph.values[g.posTable]!.type.shape[0] as number);
  return { B: c.B, T: c.T, C: C!, vocab: V!, ...(positions ? { positions } : {}) };
}

export const embed: GroupModule<EmbedGroup> = {
  forward(c, g) {
    const { P } = c;
    P.emit(
      generateEmbed({ ...dims(c, g), sinusoidal: g.sinusoidal }),
      { ids: P.buf(g.ids), tokens: P.buf(g.table), ...(g.posTable !== null ? { positions: P.buf(g.posTable) } : {}), out: P.buf(g.out) },
      g.scope,
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
    const bind: Record<string, string> = { ids: P.buf(g.ids), dout: dOut, dtokens: dTable };
    if (g.posTable !== null) {
      const pos = P.buf(g.posTable);
      const dp = P.scratch(d.name(pos), P.buffers.get(pos)!.shape);
      bind.dpositions = dp;
      d.set(pos, dp);
    }
    P.emit(generateEmbedBackward({ ...spec, accumulate: existing !== undefined }), bind, g.scope);
    d.set(table, dTable);
  },
};
