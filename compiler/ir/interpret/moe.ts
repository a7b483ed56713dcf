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
  for (let r = 0; r < R; r++) {
    const row = z.subarray(r * E, (r + 1) * E);
    const max = row.reduce((m, x) => Math.max(m, x), -Infinity);
    let sum = 0;
    for (let e = 0; e < E; e++) sum += Math.exp(row[e]! - max);
    const p = Array.from({ length: k }, (_, s) => Math.exp(row[expertAt(idx, r * k + s, E)]! - max) / sum);
    const norm = a.renormalize ? p.reduce((x, y) => x + y, 0) : 1;
    for (let s = 0; s < k; s++) out[r * k + s] = p[s]! / norm;
  }
  return { shape: [...index!.shape], data: out };
}

function expertAt(idx: Int32Array, n: number, E: number): number {
  const e = idx[n]!;
  if (e < 0 || e >= E) throw new InterpretError(`expert index ${e} at flat index ${n} is outside 0…${E - 1}`);
  return e;
}

/**
 * Each routed slot through its own expert's linear: x (B, T, in) shared by the k slots, or
 * (B, T, k, in) one per slot; index (B, T, k); inputs after them are the E weights (out, in)
 * then, with bias, the E biases (out). → (B, T, k, out).
 */
export function expertLinear(ins: readonly Tensor[], a: OpAttrs['expert_linear']): Tensor {
  const x = floats(ins[0]!, 'expert input');
  const idx = ints(ins[1]!, 'expert index');
  const E = a.experts;
  const ws = ins.slice(2, 2 + E).map((t, e) => floats(t, `expert ${e} weight`));
  const bs = a.bias ? ins.slice(2 + E, 2 + 2 * E).map((t, e) => floats(t, `expert ${e} bias`)) : null;
  const [O, I] = ins[2]!.shape as [number, number];
  const slots = idx.length; // B·T·k
  const perSlot = ins[0]!.shape.length === ins[1]!.shape.length + 1;
  const out = new Float32Array(slots * O);
  for (let n = 0; n < slots; n++) {
    const e = expertAt(idx, n, E);
    const xo = (perSlot ? n : Math.floor(n / a.top_k)) * I;
    const w = ws[e]!;
    for (let o = 0; o < O; o++) {
      let s = bs ? bs[e]![o]! : 0;
      for (let i = 0; i < I; i++) s += x[xo + i]! * w[o * I + i]!;
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
