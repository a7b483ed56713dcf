/**
 * Backward of the mixture-of-experts ops (interpret/moe.ts), as PyTorch's autograd takes it
 * through HF's MixtralSparseMoeBlock: the top-k choice is a constant (integer indices carry no
 * gradient), so the router learns through the gates, and through the load-balancing loss's
 * probabilities Pᵢ (its counts fᵢ are constants too). Weight and bias gradients of the
 * stacked experts sum over the slots routed to each expert, in slot order, in f64.
 */
import type { OpAttrs } from '../ops.js';
import { type BackwardFn, dOut, stored } from './backward-common.js';
import { floats, ints, rows, type Tensor } from './common.js';
import { expertAt, routedShare, routerProbs } from './moe.js';

type Attrs<K extends keyof OpAttrs> = OpAttrs[K];

/**
 * Gates g (…, k) from logits z (…, E), with dg the output cotangent:
 *   renormalize — g = softmax over the k chosen logits, so only they get a gradient:
 *                 dz[iₛ] = gₛ·(dgₛ − Σₜ gₜ·dgₜ)   (from the saved gates alone);
 *   otherwise   — gₛ = pᵢₛ with p = softmax over all E, so every logit gets one:
 *                 dz[e] = pₑ·(Σ_{s: iₛ = e} dgₛ − Σₛ dgₛ·gₛ)   (p from the saved logits).
 */
export const moeGatesBackward: BackwardFn<Attrs<'moe_gates'>> = (args) => {
  const [logits, index] = args.inputs as [Tensor, Tensor];
  const idx = ints(index, 'expert index');
  const dg = dOut(args);
  const E = logits.shape[logits.shape.length - 1]!;
  const k = index.shape[index.shape.length - 1]!;
  const R = idx.length / k;
  const dz = new Float64Array(R * E);
  if (args.attrs.renormalize) {
    const g = floats(args.output, 'gates');
    for (let r = 0; r < R; r++) {
      let dot = 0;
      for (let s = 0; s < k; s++) dot += g[r * k + s]! * dg[r * k + s]!;
      for (let s = 0; s < k; s++) dz[r * E + expertAt(idx, r * k + s, E)] += g[r * k + s]! * (dg[r * k + s]! - dot);
    }
  } else {
    const p = routerProbs(floats(logits, 'router logits'), R, E);
    for (let r = 0; r < R; r++) {
      let dot = 0;
      for (let s = 0; s < k; s++) dot += dg[r * k + s]! * p[r * E + expertAt(idx, r * k + s, E)]!;
      for (let e = 0; e < E; e++) dz[r * E + e] = -p[r * E + e]! * dot;
      for (let s = 0; s < k; s++) {
        const e = expertAt(idx, r * k + s, E);
        dz[r * E + e] += p[r * E + e]! * dg[r * k + s]!;
      }
    }
  }
  return [stored(logits.shape, dz), null];
};

/**
 * y[n] = W[eₙ]·x[n] + b[eₙ] for each routed slot n, with x shared by a token's k slots or one
 * per slot: dx sums the slots that read it (dx = Σ dy[n]·W[eₙ]); dW[e] = Σ_{n: eₙ = e} dy[n]ᵀ·x[n];
 * db[e] = Σ_{n: eₙ = e} dy[n]. Experts no slot chose get zero.
 */
export const expertLinearBackward: BackwardFn<Attrs<'expert_linear'>> = (args) => {
  const { inputs, attrs: a } = args;
  const x = floats(inputs[0]!, 'expert input');
  const idx = ints(inputs[1]!, 'expert index');
  const w = floats(inputs[2]!, 'expert weights');
  const dy = dOut(args);
  const [E, O, I] = inputs[2]!.shape as [number, number, number];
  const perSlot = inputs[0]!.shape.length === inputs[1]!.shape.length + 1;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(E * O);
  for (let n = 0; n < idx.length; n++) {
    const e = expertAt(idx, n, E);
    const xo = (perSlot ? n : Math.floor(n / a.top_k)) * I;
    for (let o = 0; o < O; o++) {
      const g = dy[n * O + o]!;
      if (g === 0) continue;
      const wo = (e * O + o) * I;
      db[e * O + o] += g;
      for (let i = 0; i < I; i++) {
        dx[xo + i] += g * w[wo + i]!;
        dw[wo + i] += g * x[xo + i]!;
      }
    }
  }
  const out = [stored(inputs[0]!.shape, dx), null, stored(inputs[2]!.shape, dw)];
  if (a.bias) out.push(stored([E, O], db));
  return out;
};

/** out[r] = Σₛ g[r, s]·y[r, s]: dy[r, s] = g[r, s]·dout[r], dg[r, s] = dout[r]·y[r, s]. */
export const moeCombineBackward: BackwardFn<Attrs<'moe_combine'>> = (args) => {
  const [y, gates] = args.inputs as [Tensor, Tensor];
  const v = floats(y, 'expert outputs');
  const g = floats(gates, 'gates');
  const d = dOut(args);
  const C = y.shape[y.shape.length - 1]!;
  const k = gates.shape[gates.shape.length - 1]!;
  const R = g.length / k;
  const dv = new Float64Array(v.length);
  const dg = new Float64Array(g.length);
  for (let r = 0; r < R; r++) {
    for (let s = 0; s < k; s++) {
      const o = (r * k + s) * C;
      let dot = 0;
      for (let c = 0; c < C; c++) {
        dv[o + c] = g[r * k + s]! * d[r * C + c]!;
        dot += d[r * C + c]! * v[o + c]!;
      }
      dg[r * k + s] = dot;
    }
  }
  return [stored(y.shape, dv), stored(gates.shape, dg)];
};

/**
 * L = coef·E·Σᵢ fᵢ·Pᵢ, Pᵢ = (1/N)·Σᵣ p[r, i], fᵢ constant (counts of the top-k choice):
 *   dz[r, j] = dL·coef·E/N · p[r, j]·(fⱼ − Σᵢ fᵢ·p[r, i])   (the softmax's Jacobian applied to f).
 */
export const moeAuxLossBackward: BackwardFn<Attrs<'moe_aux_loss'>> = (args) => {
  const [logits, index] = args.inputs as [Tensor, Tensor];
  const { rows: N, width: E } = rows(logits);
  const dz = new Float64Array(N * E);
  if (N === 0) return [stored(logits.shape, dz), null];
  const p = routerProbs(floats(logits, 'router logits'), N, E);
  const f = routedShare(ints(index, 'expert index'), E);
  const scale = (dOut(args)[0]! * args.attrs.coef * E) / N;
  for (let r = 0; r < N; r++) {
    let fp = 0;
    for (let e = 0; e < E; e++) fp += f[e]! * p[r * E + e]!;
    for (let e = 0; e < E; e++) dz[r * E + e] = scale * p[r * E + e]! * (f[e]! - fp);
  }
  return [stored(logits.shape, dz), null];
};
