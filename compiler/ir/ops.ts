/**
 * The op table: one entry per op kind, and the single source of truth for what an op
 * means to the compiler. Each entry owns
 *   - `shape`: input types + attrs → output type, or a shape-error string;
 *   - `flops`: the cost of one *row* (see tensor.ts `rowsOf`), split into matmul-class work
 *     (`mm`: dense products, counted as 2 per multiply–add) and elementwise work (`ew`,
 *     rough per-element counts, reported separately and never mixed into `mm`);
 *   - `bytes`: bytes moved by an unfused kernel (read every input once, write the output);
 *   - `saved`: which tensors the backward pass needs, for the activation-memory estimate.
 * `vjp` and `wgsl` are reserved for autodiff and code generation.
 */
import { bytesOf, type DimEnv, dimValue, rowsOf, sameShape, type Shape, showShape, type Sym, type TensorType } from './tensor.js';
import { ACTIVATIONS, type ActivationName } from './activations.js';

/** The activations a linear's epilogue or a GLU gate may apply (tanh only stands alone). */
export type Act = Exclude<ActivationName, 'tanh'>;
type NoAttrs = Record<string, never>;

export interface AttentionAttrs {
  readonly heads: number;
  readonly kv_heads: number;
  readonly head_dim: number;
  readonly causal: boolean;
  /** Sliding window in tokens; null = every key. */
  readonly window: number | null;
  /** Position information applied inside the kernel: ALiBi slopes or a T5 bucketed bias table. */
  readonly positions: 'none' | 'alibi' | 'relative';
  /** Relative bias only (0 otherwise). */
  readonly buckets: number;
  readonly max_distance: number;
  readonly dropout: number;
  /**
   * The counter-RNG stream of the attention-weight dropout (runtime/counter-rng.ts; lower.ts
   * sets it when dropout > 0); absent = 0.
   */
  readonly stream?: number;
  /** Cross-attention (queries from the decoder, keys/values from the encoder). */
  readonly cross: boolean;
  /** false: scores are q·k without the 1/√head_dim scale (T5); absent or true: scaled. */
  readonly scaled?: boolean;
}

export interface OpAttrs {
  embedding: NoAttrs;
  sinusoidal: { readonly dim: number };
  add: NoAttrs;
  layernorm: { readonly eps: number; readonly scale: boolean; readonly bias: boolean };
  rmsnorm: { readonly eps: number; readonly scale: boolean; readonly bias: boolean };
  linear: { readonly bias: boolean; readonly activation: Act | null };
  gelu: NoAttrs;
  gelu_tanh: NoAttrs;
  relu: NoAttrs;
  silu: NoAttrs;
  tanh: NoAttrs;
  glu: { readonly fn: Act };
  rope: { readonly heads: number; readonly head_dim: number; readonly rotary_dims: number; readonly base: number };
  attention: AttentionAttrs;
  take_first: NoAttrs;
  /**
   * classes: the real vocabulary when the logits are padded past it (model.vocab_multiple);
   * columns >= classes are padding: out of the logsumexp, zero gradient, never a target.
   * Absent: every column is a class.
   */
  softmax_xent: { readonly classes?: number };
  moe_select: { readonly top_k: number };
  moe_gates: { readonly renormalize: boolean };
  expert_linear: { readonly experts: number; readonly top_k: number; readonly bias: boolean };
  moe_combine: NoAttrs;
  /** Switch/Mixtral load-balancing loss of one MoE layer: coef · E · Σᵢ fᵢ·Pᵢ (see the op's doc). */
  moe_aux_loss: { readonly coef: number; readonly top_k: number };
  /**
   * Inverted dropout during training: keep each element with probability 1 − p and scale it
   * by 1/(1 − p); the identity in eval and sampling. The mask is a pure function of the
   * run's seed, the micro-batch counter, `stream` and the element index (runtime/counter-rng.ts).
   */
  dropout: { readonly p: number; readonly stream: number };
  /** x · factor, a constant (the model's logit_scale on the LM head's input). */
  scale: { readonly factor: number };
}

export type OpKind = keyof OpAttrs;

/** `matmul` and `attention` FLOPs make up the forward count; `elementwise` is reported apart. */
export type OpClass = 'matmul' | 'attention' | 'elementwise' | 'data';

/** Cost of one op = Π(rows) × (mm + ew); rows are the symbolic dims the op repeats over. */
export interface Flops {
  readonly rows: readonly Sym[];
  readonly mm: number;
  readonly ew: number;
}

/** What the backward needs: some inputs (parameters are never counted), the output, scratch. */
export interface Saved {
  readonly inputs: readonly number[];
  readonly output: boolean;
  readonly extra: readonly TensorType[];
}

export interface OpDef<A> {
  readonly cls: OpClass;
  readonly doc: string;
  shape(ins: readonly TensorType[], attrs: A): TensorType | string;
  flops(ins: readonly TensorType[], attrs: A, env: DimEnv): Flops;
  bytes(ins: readonly TensorType[], out: TensorType, attrs: A, env: DimEnv): number;
  saved(ins: readonly TensorType[], attrs: A): Saved;
  /** Reserved: vector–Jacobian product (autodiff pass). */
  readonly vjp?: unknown;
  /** Reserved: WGSL template (code generation). */
  readonly wgsl?: unknown;
}

/** Rough elementwise FLOPs per element of each activation (exp/erf/tanh counted as a few). */
export const ACT_FLOPS = Object.fromEntries(Object.entries(ACTIVATIONS).map(([k, d]) => [k, d.flops])) as Readonly<
  Record<ActivationName, number>
>;

// ── helpers ─────────────────────────────────────────────────────────────────────

const isFloat = (t: TensorType) => t.dtype !== 'i32';
const last = (s: Shape) => s[s.length - 1];
const lead = (s: Shape) => s.slice(0, -1);
const f32 = (shape: Shape): TensorType => ({ dtype: 'f32', shape });
const saves = (inputs: number[], output = false, extra: TensorType[] = []): Saved => ({ inputs, output, extra });

function arity(ins: readonly TensorType[], n: number, what: string): string | null {
  return ins.length === n ? null : `expects ${n} input${n === 1 ? '' : 's'} (${what}), got ${ins.length}`;
}

/** Per-row cost of work proportional to each element of `shape`. */
function perElement(shape: Shape, mm: number, ew: number): Flops {
  const { rows, width } = rowsOf(shape);
  return { rows, mm: mm * width, ew: ew * width };
}

/** Unfused kernel traffic: every input read once, the output written once. */
function io(ins: readonly TensorType[], out: TensorType, _attrs: unknown, env: DimEnv): number {
  return ins.reduce((n, t) => n + bytesOf(t, env), bytesOf(out, env));
}

function unary(doc: string, cost: number, save: 'input' | 'output'): OpDef<NoAttrs> {
  return {
    cls: 'elementwise',
    doc,
    shape: (ins) => arity(ins, 1, 'x') ?? (isFloat(ins[0]!) ? ins[0]! : 'expects a float tensor'),
    flops: ([x]) => perElement(x!.shape, 0, cost),
    bytes: io,
    saved: () => (save === 'input' ? saves([0]) : saves([], true)),
  };
}

/** Norm inputs are x, then the scale if present, then the bias if present; all share x's last dim. */
function normShape(ins: readonly TensorType[], params: number): TensorType | string {
  const bad = arity(ins, 1 + params, 'x and its scale/bias');
  if (bad) return bad;
  const x = ins[0]!;
  if (!isFloat(x) || x.shape.length === 0) return 'expects a float tensor of rank ≥ 1';
  for (const p of ins.slice(1)) {
    if (!sameShape(p.shape, [last(x.shape)!])) return `scale/bias ${showShape(p.shape)} must be (${last(x.shape)})`;
  }
  return x;
}

// ── attention and MoE rules (longer than the rest) ─────────────────────────────

function attentionShape(ins: readonly TensorType[], a: AttentionAttrs): TensorType | string {
  const bad = arity(ins, a.positions === 'relative' ? 4 : 3, 'q, k, v[, relative bias table]');
  if (bad) return bad;
  const [q, k, v, rel] = ins as [TensorType, TensorType, TensorType, TensorType | undefined];
  if (a.heads % a.kv_heads !== 0) return `kv_heads ${a.kv_heads} must divide heads ${a.heads}`;
  if (q.shape.length !== 3 || k.shape.length !== 3) return 'q, k, v must be (B, T, heads·head_dim)';
  if (q.shape[0] !== k.shape[0] || k.shape[1] !== v.shape[1]) return 'q, k, v disagree on batch or key length';
  if (last(q.shape) !== a.heads * a.head_dim) return `q ${showShape(q.shape)} needs last dim heads·head_dim = ${a.heads * a.head_dim}`;
  const kv = a.kv_heads * a.head_dim;
  if (last(k.shape) !== kv || last(v.shape) !== kv) return `k, v need last dim kv_heads·head_dim = ${kv}`;
  if (rel && !sameShape(rel.shape, [a.buckets, a.heads])) {
    return `relative bias table ${showShape(rel.shape)} must be (${a.buckets}, ${a.heads})`;
  }
  return q;
}

function expertLinearShape(ins: readonly TensorType[], a: OpAttrs['expert_linear']): TensorType | string {
  const bad = arity(ins, a.bias ? 4 : 3, a.bias ? 'x, expert index, stacked weights, stacked biases' : 'x, expert index, stacked weights');
  if (bad) return bad;
  const [x, idx, w, b] = ins as [TensorType, TensorType, TensorType, TensorType | undefined];
  if (idx.dtype !== 'i32' || last(idx.shape) !== a.top_k) return `expert index must be i32 (…, ${a.top_k})`;
  // All experts' weights are one (E, out, in) tensor, so a grouped matmul binds one buffer.
  if (w.shape.length !== 3 || w.shape[0] !== a.experts) return `expert weights ${showShape(w.shape)} must be (${a.experts}, out, in)`;
  const [, out, inDim] = w.shape as [number, number, number];
  if (b && !sameShape(b.shape, [a.experts, out])) return `expert biases ${showShape(b.shape)} must be (${a.experts}, ${out})`;
  // x is either per token (B, T, in), or per routed slot (B, T, k, in).
  const perToken = sameShape(x.shape, [...lead(idx.shape), inDim]);
  if (!perToken && !sameShape(x.shape, [...idx.shape, inDim])) {
    return `x ${showShape(x.shape)} must be ${showShape([...lead(idx.shape), inDim])} or ${showShape([...idx.shape, inDim])}`;
  }
  return { dtype: x.dtype, shape: [...idx.shape, out] };
}

// ── the table ───────────────────────────────────────────────────────────────────

export const OPS: { readonly [K in OpKind]: OpDef<OpAttrs[K]> } = {
  embedding: {
    cls: 'data',
    doc: 'gather rows of a (V, C) table by integer ids',
    shape(ins) {
      const bad = arity(ins, 2, 'table, ids');
      if (bad) return bad;
      const [table, ids] = ins as [TensorType, TensorType];
      if (table.shape.length !== 2 || ids.dtype !== 'i32') return 'expects a (V, C) table and i32 ids';
      return { dtype: table.dtype, shape: [...ids.shape, table.shape[1]!] };
    },
    flops: ([, ids]) => ({ rows: rowsOf(ids!.shape).rows, mm: 0, ew: 0 }),
    // Only the rows that are looked up move: read ids, read one row per id, write it.
    bytes: ([, ids], out, _a, env) => bytesOf(ids!, env) + 2 * bytesOf(out, env),
    saved: () => saves([1]),
  },
  sinusoidal: {
    cls: 'elementwise',
    doc: 'fixed sin/cos position encodings (T) → (T, dim)',
    shape: (ins, a) =>
      arity(ins, 1, 'positions') ??
      (ins[0]!.dtype === 'i32' && ins[0]!.shape.length === 1 ? f32([ins[0]!.shape[0]!, a.dim]) : 'expects i32 positions (T)'),
    flops: ([p], a) => perElement(p!.shape, 0, 2 * a.dim),
    bytes: io,
    saved: () => saves([]),
  },
  add: {
    cls: 'elementwise',
    doc: 'elementwise sum; the shorter shape broadcasts over leading dims (positions over batch)',
    shape(ins) {
      const bad = arity(ins, 2, 'a, b');
      if (bad) return bad;
      const [a, b] = ins as [TensorType, TensorType];
      const [big, small] = a.shape.length >= b.shape.length ? [a, b] : [b, a];
      if (a.dtype !== b.dtype || !sameShape(big.shape.slice(big.shape.length - small.shape.length), small.shape)) {
        return `cannot add ${showShape(a.shape)} and ${showShape(b.shape)}`;
      }
      return big;
    },
    flops: (ins) => perElement(ins[0]!.shape.length >= ins[1]!.shape.length ? ins[0]!.shape : ins[1]!.shape, 0, 1),
    bytes: io,
    saved: () => saves([]),
  },
  layernorm: {
    cls: 'elementwise',
    doc: 'LayerNorm over the last dim: (x − mean) · rstd · scale + bias',
    shape: (ins, a) => normShape(ins, Number(a.scale) + Number(a.bias)),
    flops: ([x], a) => perElement(x!.shape, 0, 5 + Number(a.scale) + Number(a.bias)),
    bytes: io,
    saved: ([x]) => saves([0], false, [f32(lead(x!.shape)), f32(lead(x!.shape))]), // mean, rstd
  },
  rmsnorm: {
    cls: 'elementwise',
    doc: 'RMSNorm over the last dim: x · rstd · scale (T5 "LayerNorm" too)',
    shape: (ins, a) => normShape(ins, Number(a.scale) + Number(a.bias)),
    flops: ([x], a) => perElement(x!.shape, 0, 3 + Number(a.scale) + Number(a.bias)),
    bytes: io,
    saved: ([x]) => saves([0], false, [f32(lead(x!.shape))]), // rstd
  },
  linear: {
    cls: 'matmul',
    doc: 'y = act(x · Wᵀ + b), W is (out, in) as in PyTorch',
    shape(ins, a) {
      const bad = arity(ins, a.bias ? 3 : 2, a.bias ? 'x, weight, bias' : 'x, weight');
      if (bad) return bad;
      const [x, w, b] = ins as [TensorType, TensorType, TensorType | undefined];
      if (w.shape.length !== 2 || x.shape.length === 0) return 'expects x (…, in) and a weight (out, in)';
      const [out, inDim] = w.shape as [number, number];
      if (last(x.shape) !== inDim) return `x ${showShape(x.shape)} does not match weight (${out}, ${inDim})`;
      if (b && !sameShape(b.shape, [out])) return `bias ${showShape(b.shape)} must be (${out})`;
      return { dtype: x.dtype, shape: [...lead(x.shape), out] };
    },
    flops([x, w], a) {
      const [out, inDim] = w!.shape as [number, number];
      const { rows, width } = rowsOf(lead(x!.shape));
      const ew = out * (Number(a.bias) + (a.activation ? ACT_FLOPS[a.activation] : 0));
      return { rows, mm: 2 * inDim * out * width, ew: ew * width };
    },
    bytes: io,
    // A fused activation needs the pre-activation too (same shape as the output).
    saved: ([x, w], a) => saves([0], false, a.activation ? [{ dtype: x!.dtype, shape: [...lead(x!.shape), w!.shape[0]!] }] : []),
  },
  gelu: unary(ACTIVATIONS.gelu.describe, ACT_FLOPS.gelu, 'input'),
  gelu_tanh: unary(ACTIVATIONS.gelu_tanh.describe, ACT_FLOPS.gelu_tanh, 'input'),
  relu: unary(ACTIVATIONS.relu.describe, ACT_FLOPS.relu, 'input'),
  silu: unary(ACTIVATIONS.silu.describe, ACT_FLOPS.silu, 'input'),
  tanh: unary(`${ACTIVATIONS.tanh.describe}; backward uses 1 − y²`, ACT_FLOPS.tanh, 'output'),
  glu: {
    cls: 'elementwise',
    doc: 'gated multiply act(gate) · up (SwiGLU = silu, GeGLU = gelu, ReGLU = relu)',
    shape: (ins) =>
      arity(ins, 2, 'gate, up') ??
      (ins[0]!.dtype === ins[1]!.dtype && sameShape(ins[0]!.shape, ins[1]!.shape) ? ins[0]! : 'gate and up must match'),
    flops: ([g], a) => perElement(g!.shape, 0, ACT_FLOPS[a.fn] + 1),
    bytes: io,
    saved: () => saves([0, 1]),
  },
  rope: {
    cls: 'elementwise',
    doc: 'rotary embedding of the first rotary_dims of each head, angles from positions (T)',
    shape(ins, a) {
      const bad = arity(ins, 2, 'x, positions');
      if (bad) return bad;
      const [x, p] = ins as [TensorType, TensorType];
      if (x.shape.length !== 3 || last(x.shape) !== a.heads * a.head_dim) return `x must be (B, T, ${a.heads * a.head_dim})`;
      if (p.dtype !== 'i32' || !sameShape(p.shape, [x.shape[1]!])) return `positions must be i32 (${x.shape[1]})`;
      if (a.rotary_dims % 2 !== 0 || a.rotary_dims > a.head_dim) return `rotary_dims ${a.rotary_dims} must be even and ≤ head_dim`;
      return x;
    },
    flops: ([x], a) => perElement(lead(x!.shape), 0, 3 * a.heads * a.rotary_dims),
    bytes: io,
    // The rotation is linear and recomputable from positions: x itself is not needed.
    saved: () => saves([1]),
  },
  attention: {
    cls: 'attention',
    doc: 'fused multi-head attention with an online softmax: (q, k, v) → out, never storing T×T scores',
    shape: attentionShape,
    flops([q, k], a, env) {
      const keys = dimValue(k!.shape[1]!, env);
      const span = a.window === null ? keys : Math.min(keys, a.window);
      const { rows, width } = rowsOf(lead(q!.shape));
      const biasAdd = a.positions === 'none' ? 0 : 1;
      // QKᵀ and AV: 2 FLOPs per multiply–add each, over `span` keys, for every query head.
      return { rows, mm: 4 * span * a.heads * a.head_dim * width, ew: (5 + biasAdd) * span * a.heads * width };
    },
    bytes: io,
    // FlashAttention's backward recomputes scores from q, k, v, the output and a logsumexp per row.
    saved: ([q], a) => saves([0, 1, 2], true, [f32([q!.shape[0]!, a.heads, q!.shape[1]!])]),
  },
  take_first: {
    cls: 'data',
    doc: 'the first position of each sequence: (B, T, C) → (B, C) (BERT pooler input)',
    shape(ins) {
      const x = ins[0];
      if (ins.length !== 1 || x!.shape.length !== 3) return 'expects one (B, T, C) input';
      return { dtype: x!.dtype, shape: [x!.shape[0]!, x!.shape[2]!] };
    },
    flops: ([x]) => ({ rows: rowsOf([x!.shape[0]!]).rows, mm: 0, ew: 0 }),
    bytes: io,
    saved: () => saves([]),
  },
  softmax_xent: {
    cls: 'elementwise',
    doc: 'mean cross-entropy of logits (…, V) against i32 targets (…) over the first `classes` columns; probabilities never stored',
    shape(ins, a) {
      const bad = arity(ins, 2, 'logits, targets');
      if (bad) return bad;
      const [z, y] = ins as [TensorType, TensorType];
      if (!isFloat(z) || y.dtype !== 'i32' || !sameShape(lead(z.shape), y.shape)) return 'expects logits (…, V) and i32 targets (…)';
      const V = last(z.shape);
      if (a.classes !== undefined && !(Number.isInteger(a.classes) && a.classes >= 1 && (typeof V !== 'number' || a.classes <= V)))
        return `classes ${a.classes} must be an integer in [1, V = ${V}]`;
      return f32([]);
    },
    flops: ([z]) => perElement(lead(z!.shape), 0, 4 * (last(z!.shape) as number)),
    bytes: io,
    saved: ([, y]) => saves([0, 1], false, [f32(y!.shape)]), // logits, targets, logsumexp
  },
  moe_select: {
    cls: 'elementwise',
    doc: 'indices of the top_k router logits: (…, E) → i32 (…, k)',
    shape: (ins, a) =>
      arity(ins, 1, 'router logits') ??
      ((last(ins[0]!.shape) as number) >= a.top_k ? { dtype: 'i32', shape: [...lead(ins[0]!.shape), a.top_k] } : 'top_k exceeds experts'),
    flops: ([z], a) => perElement(lead(z!.shape), 0, (last(z!.shape) as number) * a.top_k),
    bytes: io,
    saved: () => saves([]),
  },
  moe_gates: {
    cls: 'elementwise',
    doc: 'routing weights of the chosen experts: softmax over all E then gather, or over the k chosen (renormalize)',
    shape(ins) {
      const bad = arity(ins, 2, 'router logits, expert index');
      if (bad) return bad;
      const [z, i] = ins as [TensorType, TensorType];
      if (i.dtype !== 'i32' || !sameShape(lead(z.shape), lead(i.shape))) return 'logits (…, E) and index (…, k) disagree';
      return { dtype: z.dtype, shape: i.shape };
    },
    flops: ([z, i], a) => perElement(lead(z!.shape), 0, 4 * (last(a.renormalize ? i!.shape : z!.shape) as number)),
    bytes: io,
    // Renormalised gates are a softmax over the k chosen logits: the gates alone give its
    // backward. Without renormalising they are a softmax over all E, whose backward needs every
    // probability, so the logits are kept instead.
    saved: (_ins, a) => (a.renormalize ? saves([1], true) : saves([0, 1])),
  },
  expert_linear: {
    cls: 'matmul',
    doc: 'each routed slot through its own expert: (B, T[, k], in) → (B, T, k, out); only k of E experts run per token',
    shape: expertLinearShape,
    flops([x, , w], a) {
      const [, out, inDim] = w!.shape as [number, number, number]; // one expert's weight is (out, in)
      const { rows, width } = rowsOf(x!.shape.slice(0, 2));
      return { rows, mm: 2 * a.top_k * inDim * out * width, ew: a.bias ? a.top_k * out * width : 0 };
    },
    bytes: io,
    saved: () => saves([0, 1]),
  },
  moe_combine: {
    cls: 'elementwise',
    doc: 'weighted sum of the k expert outputs: (…, k, C) × (…, k) → (…, C)',
    shape(ins) {
      const bad = arity(ins, 2, 'expert outputs, gates');
      if (bad) return bad;
      const [y, g] = ins as [TensorType, TensorType];
      if (!sameShape(lead(y.shape), g.shape)) return `expert outputs ${showShape(y.shape)} and gates ${showShape(g.shape)} disagree`;
      return { dtype: y.dtype, shape: [...lead(g.shape), last(y.shape)!] };
    },
    flops: ([y]) => perElement(y!.shape, 0, 2),
    bytes: io,
    saved: () => saves([0, 1]),
  },
  moe_aux_loss: {
    cls: 'elementwise',
    doc:
      "load-balancing loss of one MoE layer (Switch Transformer; Megatron's top-k normalisation): coef · E · Σᵢ fᵢ·Pᵢ, " +
      'fᵢ = share of the N·k routed slots that chose expert i (a constant), Pᵢ = mean over the N tokens of softmax(logits)ᵢ',
    shape(ins, a) {
      const bad = arity(ins, 2, 'router logits, expert index');
      if (bad) return bad;
      const [z, i] = ins as [TensorType, TensorType];
      if (!isFloat(z) || i.dtype !== 'i32' || !sameShape(lead(z.shape), lead(i.shape)) || last(i.shape) !== a.top_k) {
        return `expects router logits (…, E) and an i32 expert index (…, ${a.top_k}) over the same tokens`;
      }
      return f32([]);
    },
    // Per token: a softmax over E (max, exp, sum, divide) summed into P, and k counts.
    flops: ([z], a) => perElement(lead(z!.shape), 0, 4 * (last(z!.shape) as number) + a.top_k),
    bytes: io,
    // The backward needs every token's probabilities (from the logits) and the counts (from the index).
    saved: () => saves([0, 1]),
  },
  dropout: {
    cls: 'elementwise',
    doc: 'inverted dropout (training only): x·keep/(1 − p), the mask a counter-based hash of (seed, step, stream, index)',
    shape: (ins, a) =>
      arity(ins, 1, 'x') ?? (!isFloat(ins[0]!) ? 'expects a float tensor' : a.p >= 0 && a.p < 1 ? ins[0]! : `p = ${a.p} is outside [0, 1)`),
    // One multiply per element in training, as the kernel counts it (the hash is integer work).
    flops: ([x]) => perElement(x!.shape, 0, 1),
    bytes: io,
    // The backward recomputes the mask from (seed, step, stream): nothing is kept.
    saved: () => saves([]),
  },
  scale: {
    cls: 'elementwise',
    doc: 'x · factor, a constant (logit_scale on the LM head input, as T5 with a tied head scales by d_model^-0.5)',
    shape: (ins, a) =>
      arity(ins, 1, 'x') ??
      (!isFloat(ins[0]!) ? 'expects a float tensor' : Number.isFinite(a.factor) ? ins[0]! : `factor ${a.factor} is not finite`),
    flops: ([x]) => perElement(x!.shape, 0, 1),
    bytes: io,
    // Linear in x with a constant slope: the backward is dout · factor, nothing kept.
    saved: () => saves([]),
  },
};

export function opDef<K extends OpKind>(kind: K): OpDef<OpAttrs[K]> {
  return OPS[kind];
}
