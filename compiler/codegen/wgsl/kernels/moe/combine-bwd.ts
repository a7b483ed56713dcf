/**
 * Backward of moe_combine (combine.ts), y[t] = Σ_j gates[t, j] · ys[pos[t, j]]:
 *   dys:    dys[r, c]    = gates[s] · dy[s / k, c],  s = order[r]     (sorted rows; one invocation per value)
 *   dgates: dgates[t, j] = Σ_c ys[pos[t, j], c] · dy[t, c]           (one invocation per slot)
 * Both are gathers: every value written once, no atomics. FLOPs tokens·k·C and 2·tokens·k·C.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, u32 } from '../common.js';

export interface MoeCombineBackwardSpec {
  tokens: number;
  topK: number;
  C: number;
  /** Entry point; default 'moe_combine_dys' / 'moe_combine_dgates'. */
  name?: string;
}

/** Bindings, in order: dy [tokens, C], gates [tokens, k], order (u32 [tokens·k]), dys [tokens·k, C]. */
export function generateMoeCombineDys(spec: MoeCombineBackwardSpec): WgslKernel {
  const entryPoint = entryName('moe_combine_dys', spec.name);
  for (const d of ['tokens', 'topK', 'C'] as const) checkInt(entryPoint, d, spec[d]);
  const { tokens: N, topK: k, C } = spec;
  const b = new Bindings(entryPoint)
    .storage('dy', 'read', [N, C])
    .storage('gates', 'read', [N, k])
    .storage('order', 'read', [N * k], 'u32')
    .storage('dys', 'read_write', [N * k, C]);
  const lin = linear(entryPoint, N * k * C);
  const main = lin.main(`let s = order[i / ${u32(C)}];
  dys[i] = gates[s] * dy[(s / ${u32(k)}) * ${u32(C)} + i % ${u32(C)}];`);
  return assemble({
    entryPoint,
    fuses: ['moe_combine_backward'],
    shapes: { dy: [N, C], dys: [N * k, C] },
    notes: ["dys[r] = gates[order[r]] · dy[order[r] / k]: the combine's gradient in expert-sorted order; one invocation per value"],
    bindings: b,
    launch: lin,
    flops: N * k * C,
    main,
  });
}

/** Bindings, in order: ys [tokens·k, C], dy [tokens, C], pos (u32 [tokens·k]), dgates [tokens, k]. */
export function generateMoeCombineDgates(spec: MoeCombineBackwardSpec): WgslKernel {
  const entryPoint = entryName('moe_combine_dgates', spec.name);
  for (const d of ['tokens', 'topK', 'C'] as const) checkInt(entryPoint, d, spec[d]);
  const { tokens: N, topK: k, C } = spec;
  const b = new Bindings(entryPoint)
    .storage('ys', 'read', [N * k, C])
    .storage('dy', 'read', [N, C])
    .storage('pos', 'read', [N * k], 'u32')
    .storage('dgates', 'read_write', [N, k]);
  const lin = linear(entryPoint, N * k);
  const main = lin.main(`let yb = pos[i] * ${u32(C)};
  let db = (i / ${u32(k)}) * ${u32(C)};
  var s = 0.0;
  for (var c = 0u; c < ${u32(C)}; c++) { s += ys[yb + c] * dy[db + c]; }
  dgates[i] = s;`);
  return assemble({
    entryPoint,
    fuses: ['moe_combine_backward'],
    shapes: { ys: [N * k, C], dgates: [N, k] },
    notes: ['dgates[t, j] = ys[pos[t, j]] · dy[t]; one invocation per slot'],
    bindings: b,
    launch: lin,
    flops: 2 * N * k * C,
    main,
  });
}
