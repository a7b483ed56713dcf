/**
 * Backward of the routing (route.ts) to the router logits, one invocation per token row:
 *   dp[i]  = Σ_j [idx[t, j] = i] · (renormalized: (dg_j − Σ_l dg_l·g_l) / S,  else: dg_j)
 *            (+ with the auxiliary loss: daux · coef·E·f_i / N,  f_i = counts[i] / (N·k))
 *   dz[i]  = p_i · (dp[i] − Σ_m p_m·dp[m])                    (softmax backward)
 * where p = probs[t], S = Σ_j p[idx[t, j]], g_j = p[idx[t, j]] / S, dg = dgates[t]. With
 * renormalization and no auxiliary term this is the softmax-over-the-chosen backward
 * (Σ_m p_m·dp[m] vanishes); without it, the full softmax backward of the gathered gradient.
 * The top-k choice itself has no gradient, nor do the counts f_i (as in HF Mixtral).
 * FLOPs per row ≈ 6E + 6k; bytes: probs, idx, dgates read, dlogits written.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, linear, u32 } from '../common.js';

export interface MoeRouteBackwardSpec {
  tokens: number;
  experts: number;
  topK: number;
  renormalize: boolean;
  /** The auxiliary loss coefficient; absent or 0: no auxiliary term (no counts/daux bindings). */
  auxCoef?: number;
  /** Entry point; default 'moe_route_backward'. */
  name?: string;
}

/**
 * Bindings, in order: probs [tokens, E], idx (i32 [tokens, k]), dgates [tokens, k],
 * counts (u32 [E]) and daux [1] (auxiliary loss only), dlogits [tokens, E] (read_write).
 */
export function generateMoeRouteBackward(spec: MoeRouteBackwardSpec): WgslKernel {
  const entryPoint = entryName('moe_route_backward', spec.name);
  for (const d of ['tokens', 'experts', 'topK'] as const) checkInt(entryPoint, d, spec[d]);
  const { tokens: N, experts: E, topK: k } = spec;
  const aux = (spec.auxCoef ?? 0) !== 0;
  const b = new Bindings(entryPoint)
    .storage('probs', 'read', [N, E])
    .storage('idx', 'read', [N, k], 'i32')
    .storage('dgates', 'read', [N, k]);
  if (aux) b.storage('counts', 'read', [E], 'u32').storage('daux', 'read', [1]);
  b.storage('dlogits', 'read_write', [N, E]);
  const lin = linear(entryPoint, N);
  // coef·E·f_i/N with f_i = counts[i]/(N·k): one constant times counts[i].
  const auxScale = aux ? f32(((spec.auxCoef ?? 0) * E) / (N * N * k)) : '';
  const init = aux ? `daux[0] * ${auxScale} * f32(counts[e])` : '0.0';
  const chosen = spec.renormalize
    ? `  var S = 0.0;
  for (var j = 0u; j < ${u32(k)}; j++) { S += probs[pb + u32(idx[kb + j])]; }
  var dot = 0.0;
  for (var j = 0u; j < ${u32(k)}; j++) { dot += dgates[kb + j] * probs[pb + u32(idx[kb + j])] / S; }
  for (var j = 0u; j < ${u32(k)}; j++) {
    let e = u32(idx[kb + j]);
    dp[e] += (dgates[kb + j] - dot) / S;
  }`
    : `  for (var j = 0u; j < ${u32(k)}; j++) {
    let e = u32(idx[kb + j]);
    dp[e] += dgates[kb + j];
  }`;
  const main = lin.main(`let pb = i * ${u32(E)};
  let kb = i * ${u32(k)};
  var dp: array<f32, ${E}>;
  for (var e = 0u; e < ${u32(E)}; e++) { dp[e] = ${init}; }
${chosen}
  var pd = 0.0;
  for (var e = 0u; e < ${u32(E)}; e++) { pd += probs[pb + e] * dp[e]; }
  for (var e = 0u; e < ${u32(E)}; e++) { dlogits[pb + e] = probs[pb + e] * (dp[e] - pd); }`);
  return assemble({
    entryPoint,
    fuses: ['moe_gates_backward'],
    shapes: { probs: [N, E], dgates: [N, k], dlogits: [N, E] },
    notes: [
      `d router logits from d gates${spec.renormalize ? ' (renormalized over the chosen)' : ''}${aux ? ` and the auxiliary loss (coef ${spec.auxCoef})` : ''}, through the softmax`,
      'one invocation per token row',
    ],
    bindings: b,
    launch: lin,
    flops: N * (6 * E + 6 * k),
    main,
  });
}
