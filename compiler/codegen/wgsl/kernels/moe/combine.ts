/**
 * Back from expert-sorted rows to tokens, as a gather (each output value written once, its
 * k terms summed in slot order: deterministic, no atomics):
 *   with gates:    y[t, c] = Σ_j gates[t, j] · ys[pos[t·k + j], c]    (moe_combine)
 *   without gates: y[t, c] = Σ_j ys[pos[t·k + j], c]                  (the backward's dX of the
 *                  shared up/gate input: each token's k sorted rows summed back onto it)
 * One invocation per output value. FLOPs 2·tokens·k·C (k·C without gates).
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, u32 } from '../common.js';

export interface MoeCombineSpec {
  tokens: number;
  topK: number;
  /** Row width. */
  C: number;
  /** Weight each slot by its gate. Default true. */
  gates?: boolean;
  /** Entry point; default 'moe_combine' (with gates) or 'moe_gather_tokens'. */
  name?: string;
}

/** Bindings, in order: ys [tokens·k, C], gates [tokens, k] (with gates), pos (u32 [tokens·k]), out [tokens, C]. */
export function generateMoeCombine(spec: MoeCombineSpec): WgslKernel {
  const weighted = spec.gates ?? true;
  const entryPoint = entryName(weighted ? 'moe_combine' : 'moe_gather_tokens', spec.name);
  for (const d of ['tokens', 'topK', 'C'] as const) checkInt(entryPoint, d, spec[d]);
  const { tokens: N, topK: k, C } = spec;
  const b = new Bindings(entryPoint).storage('ys', 'read', [N * k, C]);
  if (weighted) b.storage('gates', 'read', [N, k]);
  b.storage('pos', 'read', [N * k], 'u32').storage('out', 'read_write', [N, C]);
  const lin = linear(entryPoint, N * C);
  const term = weighted ? `gates[t * ${u32(k)} + j] * ys[p * ${u32(C)} + c]` : `ys[p * ${u32(C)} + c]`;
  const main = lin.main(`let t = i / ${u32(C)};
  let c = i % ${u32(C)};
  var s = 0.0;
  for (var j = 0u; j < ${u32(k)}; j++) {
    let p = pos[t * ${u32(k)} + j];
    s += ${term};
  }
  out[i] = s;`);
  return assemble({
    entryPoint,
    fuses: weighted ? ['moe_combine'] : ['expert_linear_backward'],
    shapes: { ys: [N * k, C], out: [N, C] },
    notes: [
      weighted
        ? 'y[t] = Σ_j gates[t, j] · ys[pos[t, j]]: the expert outputs gathered back to token order, weighted'
        : "dx[t] = Σ_j ys[pos[t, j]]: each token's k sorted rows summed back onto it",
      'one invocation per output value, slots summed in order (no atomics)',
    ],
    bindings: b,
    launch: lin,
    flops: (weighted ? 2 : 1) * N * k * C,
    main,
  });
}
