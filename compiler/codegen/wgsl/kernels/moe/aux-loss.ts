/**
 * The auxiliary load-balancing loss of one MoE layer (Switch/Mixtral):
 *   aux = coef · E · Σ_i f_i · P_i,   f_i = counts[i] / (N·k)  (the fraction of routed slots
 *                                      sent to expert i),  P_i = Σ_t probs[t, i] / N
 * One invocation sums everything in a fixed order (E·N adds: tiny next to the experts), so the
 * value is bit-reproducible. FLOPs ≈ E·N + 3E; bytes: probs and counts read, 4 written.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, u32 } from '../common.js';

export interface MoeAuxLossSpec {
  tokens: number;
  experts: number;
  topK: number;
  coef: number;
  /** Entry point; default 'moe_aux_loss'. */
  name?: string;
}

/** Bindings, in order: probs [tokens, E], counts (u32 [E]), aux [1] (read_write). */
export function generateMoeAuxLoss(spec: MoeAuxLossSpec): WgslKernel {
  const entryPoint = entryName('moe_aux_loss', spec.name);
  for (const d of ['tokens', 'experts', 'topK'] as const) checkInt(entryPoint, d, spec[d]);
  const { tokens: N, experts: E, topK: k, coef } = spec;
  const b = new Bindings(entryPoint)
    .storage('probs', 'read', [N, E])
    .storage('counts', 'read', [E], 'u32')
    .storage('aux', 'read_write', [1]);
  const main = `@compute @workgroup_size(1)
fn ${entryPoint}() {
  var total = 0.0;
  for (var e = 0u; e < ${u32(E)}; e++) {
    var p = 0.0;
    for (var t = 0u; t < ${u32(N)}; t++) { p += probs[t * ${u32(E)} + e]; }
    total += (f32(counts[e]) / ${f32(N * k)}) * (p / ${f32(N)});
  }
  aux[0] = ${f32(coef * E)} * total;
}`;
  return assemble({
    entryPoint,
    fuses: ['moe_aux_loss'],
    shapes: { probs: [N, E], counts: [E] },
    notes: [`aux = ${coef} · ${E} · Σ_i (counts[i] / ${N * k}) · mean_t probs[t, i]; one invocation, fixed summation order`],
    bindings: b,
    launch: { workgroupSize: [1, 1, 1], dispatch: [1, 1, 1] },
    flops: E * N + 3 * E,
    main,
  });
}

/**
 * The seed of the backward pass when the loss is more than the cross-entropy (xent + the
 * auxiliary losses): a one-value buffer set to 1.0 each step, read as d(loss)/d(loss).
 * Bindings: seed [1] (read_write). FLOPs 0; bytes 4.
 */
export function generateLossSeed(name = 'loss_seed'): WgslKernel {
  const entryPoint = entryName('loss_seed', name);
  const b = new Bindings(entryPoint).storage('seed', 'read_write', [1]);
  return assemble({
    entryPoint,
    fuses: [],
    shapes: { seed: [1] },
    notes: ['seed[0] = 1: d(loss)/d(loss), which the backward of the loss sum starts from'],
    bindings: b,
    launch: { workgroupSize: [1, 1, 1], dispatch: [1, 1, 1] },
    flops: 0,
    main: `@compute @workgroup_size(1)
fn ${entryPoint}() {
  seed[0] = 1.0;
}`,
  });
}
