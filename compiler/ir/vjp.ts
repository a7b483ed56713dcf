/**
 * The VJP table: for every op kind, how to pull an output cotangent back to its inputs.
 *
 * An entry is a rule or the reason there is none. A rule pairs
 *   - `save`: the scratch the forward keeps for the backward — exactly the tensors the op
 *     table's `saved.extra` lists (norm mean/rstd, attention and loss log-sum-exps, a fused
 *     linear's pre-activation) — computed from the forward's inputs and output; and
 *   - `backward`: the vector–Jacobian product, given the forward inputs, the output, that
 *     scratch and dout, returning one cotangent per input (null for i32 inputs).
 * Both are the CPU reference (compiler/ir/interpret/backward*.ts); a GPU backend pairs each
 * forward kernel with a backward kernel per entry and is checked against these functions.
 * A backward reads only what the op table's `saved` says is kept — the saved inputs, the
 * output when `saved.output`, the extra scratch — plus parameters, which are always at hand.
 *
 * moe_select has no rule because its output is integer
 * expert indices: no cotangent ever reaches it (the router learns through moe_gates and
 * moe_aux_loss, as under PyTorch's autograd).
 */
import type { Tensor } from './interpret/common.js';
import type { BackwardFn, Cotangents, SaveFn } from './interpret/backward-common.js';
import { attentionBackward, attentionSave, ropeBackward } from './interpret/backward-attention.js';
import { expertLinearBackward, moeAuxLossBackward, moeCombineBackward, moeGatesBackward } from './interpret/backward-moe.js';
import { dropoutBackward } from './interpret/dropout.js';
import type { DropoutRng } from '../../runtime/counter-rng.js';
import {
  addBackward,
  embeddingBackward,
  gluBackward,
  layernormBackward,
  layernormSave,
  linearBackward,
  linearSave,
  rmsnormBackward,
  rmsnormSave,
  scaleBackward,
  sinusoidalBackward,
  softmaxXentBackward,
  softmaxXentSave,
  takeFirstBackward,
  tanhBackward,
  unaryBackward,
} from './interpret/backward-basic.js';
import type { OpAttrs, OpKind } from './ops.js';

export type { BackwardFn, Cotangents, SaveFn, VjpArgs } from './interpret/backward-common.js';

export interface VjpRule<A> {
  /** The math, in one line, for dumps and docs. */
  readonly doc: string;
  /** The forward's saved scratch (op table `saved.extra`); absent when the op keeps none. */
  readonly save?: SaveFn<A>;
  readonly backward: BackwardFn<A>;
  /** Attribute combinations the rule does not cover, as the reason; null when covered. */
  readonly unsupported?: (attrs: A) => string | null;
}

export interface NoVjp {
  readonly unsupported: string;
}

export type VjpEntry<A> = VjpRule<A> | NoVjp;

export const VJP: { readonly [K in OpKind]: VjpEntry<OpAttrs[K]> } = {
  embedding: { doc: 'dtable[id] += dy (rows scattered back, summed in id order)', backward: embeddingBackward },
  sinusoidal: { doc: 'fixed encodings of integer positions: no cotangent', backward: sinusoidalBackward },
  add: { doc: 'da = dy; the broadcast operand gets dy summed over the dims it repeats along', backward: addBackward },
  layernorm: {
    doc: 'dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·scale; dscale = Σ dy·x̂; dbias = Σ dy',
    save: layernormSave,
    backward: layernormBackward,
  },
  rmsnorm: {
    doc: 'dx = rstd·(g − x̂·mean(g·x̂)), g = dy·scale; dscale = Σ dy·x̂; dbias = Σ dy',
    save: rmsnormSave,
    backward: rmsnormBackward,
  },
  linear: {
    doc: 'dz = dy·act′(pre); dx = dz·W; dW = dzᵀ·x (over all rows); db = Σ dz',
    save: linearSave,
    backward: linearBackward,
  },
  gelu: { doc: 'dx = dy·(Φ(x) + x·φ(x))', backward: unaryBackward('gelu') },
  gelu_tanh: { doc: 'dx = dy·d/dx[½x(1 + tanh(√(2/π)(x + 0.044715x³)))]', backward: unaryBackward('gelu_tanh') },
  relu: { doc: 'dx = dy·[x > 0]', backward: unaryBackward('relu') },
  silu: { doc: 'dx = dy·σ(x)(1 + x(1 − σ(x)))', backward: unaryBackward('silu') },
  tanh: { doc: 'dx = dy·(1 − y²), from the output', backward: tanhBackward },
  glu: { doc: 'dgate = dy·up·f′(gate); dup = dy·f(gate)', backward: gluBackward },
  rope: { doc: 'dx = dy rotated back by −p·θ (the transpose of the rotation)', backward: ropeBackward },
  attention: {
    doc: 'FlashAttention backward from q, k, v, O and the saved log-sum-exp; GQA sums dk, dv over each group; a T5 table gets Σ dS per bucket',
    save: attentionSave,
    backward: attentionBackward,
  },
  take_first: { doc: 'dx[:, 0] = dy, 0 elsewhere', backward: takeFirstBackward },
  softmax_xent: {
    doc: 'dz = dloss/N·(softmax(z) − onehot(target)) over the N rows with target ≥ 0; 0 on ignored rows',
    save: softmaxXentSave,
    backward: softmaxXentBackward,
  },
  moe_select: { unsupported: 'its output is integer expert indices, which carry no cotangent (the router learns through the gates)' },
  moe_gates: {
    doc: 'renormalize: dz[iₛ] = gₛ·(dgₛ − Σ g·dg) on the k chosen logits; else dz[e] = pₑ·(Σ_{iₛ=e} dgₛ − Σ dg·g) over all E',
    backward: moeGatesBackward,
  },
  expert_linear: {
    doc: 'dx = Σ over the slots reading it of dy·W[e]; dW[e] = Σ over slots routed to e of dyᵀ·x; db[e] = Σ dy',
    backward: expertLinearBackward,
  },
  moe_combine: { doc: 'dy[s] = g[s]·dout; dg[s] = dout·y[s]', backward: moeCombineBackward },
  moe_aux_loss: {
    doc: 'dz[r, j] = dL·coef·E/N·p[r, j]·(fⱼ − Σᵢ fᵢ·p[r, i]); the counts fᵢ are constants',
    backward: moeAuxLossBackward,
  },
  dropout: { doc: "dx = dy·keep/(1 − p), the forward's mask redrawn from (seed, step, stream)", backward: dropoutBackward },
  scale: { doc: 'dx = dy·factor', backward: scaleBackward },
};

/** The rule for `kind` with these attributes, or the reason it has none. */
export function vjpRule<K extends OpKind>(kind: K, attrs: OpAttrs[K]): VjpRule<OpAttrs[K]> | string {
  const entry = VJP[kind] as VjpEntry<OpAttrs[K]>;
  if (!('backward' in entry)) return entry.unsupported;
  return entry.unsupported?.(attrs) ?? entry;
}

/**
 * Saves, then pulls `dout` back through one op: the CPU reference of a forward/backward
 * kernel pair; `rng` is the forward's training randomness (dropout masks). Throws when the
 * op (with these attributes) has no rule.
 */
export function applyVjp<K extends OpKind>(
  kind: K,
  attrs: OpAttrs[K],
  inputs: readonly Tensor[],
  output: Tensor,
  dout: Tensor,
  rng?: DropoutRng,
): Cotangents {
  const rule = vjpRule(kind, attrs);
  if (typeof rule === 'string') throw new Error(`no vector–Jacobian product for ${kind}: ${rule}`);
  const extra = rule.save ? rule.save(inputs, output, attrs) : [];
  return rule.backward({ inputs, output, extra, dout, attrs, rng });
}
