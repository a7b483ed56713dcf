/**
 * MoE routing, one invocation per token row (E is small, a few to a few dozen experts):
 *   probs[t, :] = softmax(logits[t, :])
 *   idx[t, j]   = the j-th largest logit's expert (equal logits: the lower index first, the
 *                 interpreter's stable order), j < k
 *   gates[t, j] = probs[t, idx[t, j]], divided by Σ_j probs[t, idx[t, j]] when renormalized
 * probs is kept for the backward (route-bwd.ts) and the auxiliary load-balancing loss.
 * FLOPs per row ≈ 4E (softmax) + k·E (selection) + 2k; bytes: logits read, idx, gates and
 * probs written once.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, u32 } from '../common.js';

export interface MoeRouteSpec {
  /** Token rows (B·T). */
  tokens: number;
  experts: number;
  topK: number;
  renormalize: boolean;
  /** Entry point; default 'moe_route'. */
  name?: string;
}

/** Bindings, in order: logits [tokens, E], idx (i32 [tokens, k]), gates [tokens, k], probs [tokens, E]. */
export function generateMoeRoute(spec: MoeRouteSpec): WgslKernel {
  const entryPoint = entryName('moe_route', spec.name);
  for (const d of ['tokens', 'experts', 'topK'] as const) checkInt(entryPoint, d, spec[d]);
  const { tokens: N, experts: E, topK: k } = spec;
  if (k > E) throw new Error(`${entryPoint}: top_k ${k} exceeds the ${E} experts`);
  const b = new Bindings(entryPoint)
    .storage('logits', 'read', [N, E])
    .storage('idx', 'read_write', [N, k], 'i32')
    .storage('gates', 'read_write', [N, k])
    .storage('probs', 'read_write', [N, E]);
  const lin = linear(entryPoint, N);
  const main = lin.main(`let zb = i * ${u32(E)};
  var m = logits[zb];
  for (var e = 1u; e < ${u32(E)}; e++) { m = max(m, logits[zb + e]); }
  var s = 0.0;
  for (var e = 0u; e < ${u32(E)}; e++) { s += exp(logits[zb + e] - m); }
  for (var e = 0u; e < ${u32(E)}; e++) { probs[zb + e] = exp(logits[zb + e] - m) / s; }
  // Selection by the logits themselves (not the rounded probabilities), largest first; the
  // strict '>' keeps the lower index on ties.
  var taken: array<bool, ${E}>;
  var chosen = 0.0;
  for (var j = 0u; j < ${u32(k)}; j++) {
    var best = ${u32(E)};
    var bv = 0.0;
    for (var e = 0u; e < ${u32(E)}; e++) {
      let z = logits[zb + e];
      if (!taken[e] && (best == ${u32(E)} || z > bv)) { best = e; bv = z; }
    }
    taken[best] = true;
    idx[i * ${u32(k)} + j] = i32(best);
    let p = probs[zb + best];
    gates[i * ${u32(k)} + j] = p;
    chosen += p;
  }${
    spec.renormalize
      ? `
  for (var j = 0u; j < ${u32(k)}; j++) { gates[i * ${u32(k)} + j] = gates[i * ${u32(k)} + j] / chosen; }`
      : ''
  }`);
  return assemble({
    entryPoint,
    fuses: ['moe_select', 'moe_gates'],
    shapes: { logits: [N, E], idx: [N, k] },
    notes: [
      `softmax over ${E} router logits, top-${k} experts (ties: lower index first), gates${spec.renormalize ? ' renormalized over the chosen' : ''}`,
      'one invocation per token row; probs kept for the backward and the auxiliary loss',
    ],
    bindings: b,
    launch: lin,
    flops: N * (4 * E + k * E + 2 * k),
    main,
  });
}
