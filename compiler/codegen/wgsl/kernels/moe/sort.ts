/**
 * Deterministic counting sort of the N·k routed slots by expert, one invocation per expert
 * (each scans every slot twice; E·N·k work, fine at the sizes routed today):
 *   counts[e]   = slots routed to e
 *   offsets[e]  = slots routed to experts < e (exclusive prefix sum); offsets[E] = N·k
 *   order[p]    = the slot at sorted position p (slots of one expert in increasing slot order)
 *   pos[s]      = the sorted position of slot s (order's inverse)
 *   expert[p]   = the expert of sorted position p (the grouped matmuls' row → expert map)
 * No atomics: every value is written by exactly one invocation, in a fixed order.
 * FLOPs ≈ 2·E·N·k comparisons; bytes: idx read E times, the rest written once.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, u32 } from '../common.js';

export interface MoeSortSpec {
  /** Routed slots (tokens · top_k). */
  slots: number;
  experts: number;
  /** Entry point; default 'moe_sort'. */
  name?: string;
}

/**
 * Bindings, in order: idx (i32 [slots]), counts (u32 [E]), offsets (u32 [E + 1]), order (u32 [slots]),
 * pos (u32 [slots]), expert (u32 [slots]).
 */
export function generateMoeSort(spec: MoeSortSpec): WgslKernel {
  const entryPoint = entryName('moe_sort', spec.name);
  for (const d of ['slots', 'experts'] as const) checkInt(entryPoint, d, spec[d]);
  const { slots: S, experts: E } = spec;
  const b = new Bindings(entryPoint)
    .storage('idx', 'read', [S], 'i32')
    .storage('counts', 'read_write', [E], 'u32')
    .storage('offsets', 'read_write', [E + 1], 'u32')
    .storage('order', 'read_write', [S], 'u32')
    .storage('pos', 'read_write', [S], 'u32')
    .storage('expert', 'read_write', [S], 'u32');
  const lin = linear(entryPoint, E);
  const main = lin.main(`var n = 0u;
  var before = 0u;
  for (var s = 0u; s < ${u32(S)}; s++) {
    let x = u32(idx[s]);
    if (x == i) { n++; }
    if (x < i) { before++; }
  }
  counts[i] = n;
  offsets[i] = before;
  if (i == ${u32(E - 1)}) { offsets[${u32(E)}] = ${u32(S)}; }
  var p = before;
  for (var s = 0u; s < ${u32(S)}; s++) {
    if (u32(idx[s]) == i) {
      order[p] = s;
      pos[s] = p;
      expert[p] = i;
      p++;
    }
  }`);
  return assemble({
    entryPoint,
    fuses: ['expert_linear'],
    shapes: { idx: [S], counts: [E] },
    notes: [
      `counting sort of ${S} routed slots by expert (stable), one invocation per expert scanning every slot`,
      'writes counts, exclusive offsets, order (sorted → slot), pos (slot → sorted) and the expert of each sorted row',
    ],
    bindings: b,
    launch: lin,
    flops: 2 * E * S,
    bytes: 4 * (E * S + 2 * E + 1 + 3 * S),
    main,
  });
}
