/**
 * Mixture-of-experts routing, Mixtral style: the router's logits (…, E) pick the top_k
 * experts; their weights are softmax over all E logits gathered at the chosen ones, then
 * (renormalize) divided by their sum — HF `MixtralSparseMoeBlock`: softmax, topk, /= sum.
 */
import type { OpAttrs } from '../ops.js';
import { floats, InterpretError, ints, rows, type Tensor } from './common.js';

/**
 * Indices of the top_k logits of each row, largest first; equal logits go to the lower
 * index first (a stable sort), so ties are deterministic on every backend.
 */
export function moeSelect([logits]: readonly Tensor[], a: OpAttrs['moe_select']): Tensor {
  const z = floats(logits!, 'router logits');
  const { rows: R, width: E } = rows(logits!);
  const k = a.top_k;
  const out = new Int32Array(R * k);
  const order = Array.from({ length: E }, (_, e) => e);
  for (let r = 0; r < R; r++) {
    const row = z.subarray(r * E, (r + 1) * E);
    order.sort((x, y) => row[y]! - row[x]! || x - y);
    for (let s = 0; s < k; s++) out[r * k + s] = order[s]!;
  }
  return { shape: [...logits!.shape.slice(0, -1), k], data: out };
}

/** Routing weights (…, k) of the chosen experts (…, k) from logits (…, E). */
export function moeGates([logits, index]: readonly Tensor[], a: OpAttrs['moe_gates']): Tensor {
  const z = floats(logits!, 'router logits');
  const idx = ints(index!, 'expert index');
  const { rows: R, width: E } = rows(logits!);
  const k = index!.shape[index!.shape.length - 1]!;
  const out = new Float32Array(R * k);
  const probs = routerProbs(z, R, E);
  for (let r = 0; r < R; r++) {
    const p = Array.from({ length: k }, (_, s) => probs[r * E + expertAt(idx, r * k + s, E)]!);
    const norm = a.renormalize ? p.reduce((x, y) => x + y, 0) : 1;
    for (let s = 0; s < k; s++) out[r * k + s] = p[s]! / norm;
  }
  return { shape: [...index!.shape], data: out };
}

export function expertAt(idx: Int32Array, n: number, E: number): number {
  const e = idx[n]!;
  if (e < 0 || e >= E) throw new InterpretError(`expert index ${e} at flat index ${n} is outside 0…${E - 1}`);
  return e;
}

/**
 * Each routed slot through its own expert's linear: x (B, T, in) shared by the k slots, or
 * (B, T, k, in) one per slot; index (B, T, k); the weights of all E experts stacked (E, out,
 * in), with bias their biases (E, out). → (B, T, k, out).
 */
export function expertLinear(ins: readonly Tensor[], a: OpAttrs['expert_linear']): Tensor {
  const x = floats(ins[0]!, 'expert input');
  const idx = ints(ins[1]!, 'expert index');
  const w = floats(ins[2]!, 'expert weights');
  const b = a.bias ? floats(ins[3]!, 'expert biases') : null;
  const [E, O, I] = ins[2]!.shape as [number, number, number];
  const slots = idx.length; // B·T·k
  const perSlot = ins[0]!.shape.length === ins[1]!.shape.length + 1;
  const out = new Float32Array(slots * O);
  for (let n = 0; n < slots; n++) {
    const e = expertAt(idx, n, E);
    const xo = (perSlot ? n : Math.floor(n / a.top_k)) * I;
    for (let o = 0; o < O; o++) {
      const wo = (e * O + o) * I;
      let s = b ? b[e * O + o]! : 0;
      for (let i = 0; i < I; i++) s += x[xo + i]! * w[wo + i]!;
      out[n * O + o] = s;
    }
  }
  return { shape: [...ins[1]!.shape, O], data: out };
}

/** Σ_s gate[…, s] · y[…, s, :]: (…, k, C) × (…, k) → (…, C). */
export function moeCombine([y, gates]: readonly Tensor[]): Tensor {
  const v = floats(y!, 'expert outputs');
  const g = floats(gates!, 'gates');
  const C = y!.shape[y!.shape.length - 1]!;
  const k = gates!.shape[gates!.shape.length - 1]!;
  const R = g.length / k;
  const out = new Float32Array(R * C);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += g[r * k + j]! * v[(r * k + j) * C + c]!;
      out[r * C + c] = s;
    }
  }
  return { shape: [...gates!.shape.slice(0, -1), C], data: out };
}

/** Softmax of each row of router logits (N, E), in f64: the Pᵢ of the load-balancing loss. */
export function routerProbs(z: Float32Array, N: number, E: number): Float64Array {
  const p = new Float64Array(N * E);
  for (let r = 0; r < N; r++) {
    let max = -Infinity;
    for (let e = 0; e < E; e++) max = Math.max(max, z[r * E + e]!);
    let sum = 0;
    for (let e = 0; e < E; e++) sum += p[r * E + e] = Math.exp(z[r * E + e]! - max);
    for (let e = 0; e < E; e++) p[r * E + e]! /= sum;
  }
  return p;
}

/** fᵢ: the share of the N·k routed slots that chose expert i. */
export function routedShare(idx: Int32Array, E: number): Float64Array {
  const f = new Float64Array(E);
  for (let n = 0; n < idx.length; n++) f[expertAt(idx, n, E)]! += 1 / idx.length;
  return f;
}

/**
 * The load-balancing loss of one layer, coef · E · Σᵢ fᵢ·Pᵢ with fᵢ the share of routed slots
 * (N·k of them) that chose expert i and Pᵢ the mean router probability of expert i over the
 * N tokens (Switch Transformer, Fedus et al. 2021, eq. 4; with top-k routing fᵢ counts slots,
 * as Megatron-LM does, so a perfectly balanced router scores coef whatever k is). HF
 * Mixtral's load_balancing_loss_func divides the counts by N only, which is k times this.
 */
export function moeAuxLoss([logits, index]: readonly Tensor[], a: OpAttrs['moe_aux_loss']): Tensor {
  const z = floats(logits!, 'router logits');
  const idx = ints(index!, 'expert index');
  const { rows: N, width: E } = rows(logits!);
  if (N === 0) return { shape: [], data: Float32Array.of(0) }; // no token, no imbalance
  const p = routerProbs(z, N, E);
  const f = routedShare(idx, E);
  let s = 0;
  for (let e = 0; e < E; e++) {
    let P = 0;
    for (let r = 0; r < N; r++) P += p[r * E + e]!;
    s += f[e]! * (P / N);
  }
  return { shape: [], data: Float32Array.of(a.coef * E * s) };
}
