/**
 * Every rule of the VJP table against central finite differences of the CPU interpreter.
 *
 * For each case the scalar L = Σ out·r (r a fixed random tensor) is differentiated two ways:
 * the rule's backward with dout = r, and (L(x + h·eᵢ) − L(x − h·eᵢ)) / (x₊ − x₋) for every
 * element of every float input, where x± are the f32 values actually stored (the step is
 * exact, not rounded into the quotient). The forward is the interpreter (f64 sums, f32
 * storage); L is summed in f64. A perturbation changes only the outputs it reaches, so the
 * others cancel exactly and the f32 rounding noise stays ~1e-7·|out|/h.
 *
 * Tolerance: per input tensor, max |fd − vjp| ≤ 1e-3 · max |vjp| (relative to the tensor's
 * largest entry). Steps: h = 2⁻⁷ on inputs of O(1) — small enough for the truncation error
 * (~h²·f‴/6 ≈ 1e-5) and large enough for the rounding noise (~1e-5); ReLU inputs are kept
 * 0.1 away from the kink, and a linear + ReLU uses h = 2⁻¹² (piecewise linear: no truncation
 * error, and a weight step must not push any pre-activation across 0).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fromArray, interpretOp, type Tensor } from '../../compiler/ir/interpret.js';
import { type AttentionAttrs, type OpAttrs, type OpKind, opDef } from '../../compiler/ir/ops.js';
import { makeRng } from '../../runtime/random.js';
import { applyVjp, VJP, vjpRule } from '../../compiler/ir/vjp.js';

const REL_TOL = 1e-3;
const STEP = 2 ** -7;
const ENV = { B: 1, T: 1, S: 1 }; // every shape here is concrete

interface Case {
  readonly name: string;
  readonly kind: OpKind;
  readonly attrs: unknown;
  readonly inputs: () => Tensor[];
  /** Inputs lowering feeds from parameters (always at hand in the backward, never "saved"). */
  readonly params?: readonly number[];
  /** Finite-difference step, when STEP would cross a kink. */
  readonly step?: number;
  /** Training randomness: dropout masks drawn (and held fixed while differencing). */
  readonly rng?: { seed: number; step: number };
}

let seed = 1;
function normal(shape: number[], opts: { std?: number; mean?: number; awayFromZero?: number } = {}): Tensor {
  const rng = makeRng(seed++);
  const n = shape.reduce((a, d) => a * d, 1);
  const values = Array.from({ length: n }, () => {
    let v = (opts.mean ?? 0) + (opts.std ?? 1) * rng.normal();
    const gap = opts.awayFromZero ?? 0;
    if (Math.abs(v) < gap) v = v < 0 ? v - gap : v + gap;
    return v;
  });
  return fromArray(shape, values);
}
const ints = (shape: number[], values: number[]) => fromArray(shape, values, 'i32');

function attn(a: Partial<AttentionAttrs>): AttentionAttrs {
  return {
    heads: 2,
    kv_heads: 2,
    head_dim: 4,
    causal: true,
    window: null,
    positions: 'none',
    buckets: 0,
    max_distance: 0,
    dropout: 0,
    cross: false,
    ...a,
  };
}
/** q (B, T, H·D), k and v (B, Tk, K·D). */
function qkv(a: AttentionAttrs, B: number, T: number, Tk = T): () => Tensor[] {
  return () => [normal([B, T, a.heads * a.head_dim]), normal([B, Tk, a.kv_heads * a.head_dim]), normal([B, Tk, a.kv_heads * a.head_dim])];
}
const attentionCase = (name: string, a: AttentionAttrs, B = 2, T = 5, Tk = T): Case => ({
  name,
  kind: 'attention',
  attrs: a,
  inputs: qkv(a, B, T, Tk),
});

const norm = (kind: 'layernorm' | 'rmsnorm', scale: boolean, bias: boolean): Case => ({
  name: `${kind}${scale ? ' scale' : ''}${bias ? ' bias' : ''}`,
  kind,
  attrs: { eps: 1e-5, scale, bias },
  inputs: () => [
    normal([2, 3, 6], { mean: 0.3 }),
    ...(scale ? [normal([6], { mean: 1, std: 0.3 })] : []),
    ...(bias ? [normal([6], { std: 0.3 })] : []),
  ],
  params: scale || bias ? (scale && bias ? [1, 2] : [1]) : [],
});

const linear = (bias: boolean, activation: OpAttrs['linear']['activation']): Case => ({
  name: `linear${bias ? ' bias' : ''}${activation ? ` + ${activation}` : ''}`,
  kind: 'linear',
  attrs: { bias, activation },
  inputs: () => [normal([2, 3, 5]), normal([4, 5], { std: 0.5 }), ...(bias ? [normal([4], { std: 0.5 })] : [])],
  params: bias ? [1, 2] : [1],
  // A weight step moves every pre-activation of its row; keep it from crossing ReLU's kink.
  ...(activation === 'relu' ? { step: 2 ** -12 } : {}),
});

const unary = (kind: 'gelu' | 'gelu_tanh' | 'relu' | 'silu' | 'tanh'): Case => ({
  name: kind,
  kind,
  attrs: {},
  inputs: () => [normal([3, 7], { std: 1.5, awayFromZero: kind === 'relu' ? 0.1 : 0 })],
});

const glu = (fn: OpAttrs['glu']['fn']): Case => ({
  name: `glu ${fn}`,
  kind: 'glu',
  attrs: { fn },
  inputs: () => [normal([2, 3, 4], { std: 1.5, awayFromZero: fn === 'relu' ? 0.1 : 0 }), normal([2, 3, 4])],
});

const CASES: Case[] = [
  {
    name: 'embedding (repeated ids)',
    kind: 'embedding',
    attrs: {},
    inputs: () => [normal([7, 5]), ints([2, 3], [1, 4, 1, 6, 0, 4])],
    params: [0],
  },
  { name: 'sinusoidal', kind: 'sinusoidal', attrs: { dim: 6 }, inputs: () => [ints([4], [0, 1, 2, 5])] },
  { name: 'add (same shape)', kind: 'add', attrs: {}, inputs: () => [normal([2, 3, 4]), normal([2, 3, 4])] },
  { name: 'add (positions broadcast over batch)', kind: 'add', attrs: {}, inputs: () => [normal([2, 3, 4]), normal([3, 4])] },
  { name: 'add (broadcast operand first)', kind: 'add', attrs: {}, inputs: () => [normal([3, 4]), normal([2, 3, 4])] },
  norm('layernorm', true, true),
  norm('layernorm', false, false),
  norm('rmsnorm', true, false),
  norm('rmsnorm', true, true),
  linear(true, null),
  linear(false, null),
  linear(true, 'gelu_tanh'),
  linear(false, 'silu'),
  linear(true, 'gelu'),
  linear(true, 'relu'),
  unary('gelu'),
  unary('gelu_tanh'),
  unary('relu'),
  unary('silu'),
  unary('tanh'),
  glu('silu'),
  glu('gelu'),
  glu('gelu_tanh'),
  glu('relu'),
  {
    name: 'rope (full rotary)',
    kind: 'rope',
    attrs: { heads: 2, head_dim: 4, rotary_dims: 4, base: 10000 },
    inputs: () => [normal([2, 4, 8]), ints([4], [0, 1, 5, 2])],
  },
  {
    name: 'rope (partial rotary, small base)',
    kind: 'rope',
    attrs: { heads: 2, head_dim: 6, rotary_dims: 4, base: 7 },
    inputs: () => [normal([1, 3, 12]), ints([3], [3, 0, 9])],
  },
  attentionCase('attention causal', attn({})),
  attentionCase('attention causal GQA (4 heads over 2)', attn({ heads: 4, kv_heads: 2 })),
  attentionCase('attention causal MQA', attn({ heads: 3, kv_heads: 1 })),
  attentionCase('attention causal window 2', attn({ window: 2 })),
  attentionCase('attention bidirectional', attn({ causal: false })),
  attentionCase('attention bidirectional window 2', attn({ causal: false, window: 2 })),
  attentionCase('attention ALiBi causal (3 heads)', attn({ heads: 3, kv_heads: 3, positions: 'alibi' })),
  attentionCase('attention ALiBi bidirectional GQA', attn({ heads: 4, kv_heads: 2, positions: 'alibi', causal: false })),
  attentionCase('attention cross (T 3, S 5)', attn({ causal: false, cross: true }), 2, 3, 5),
  attentionCase('attention with dropout attr (ignored)', attn({ dropout: 0.1 })),
  attentionCase('attention unscaled (T5: no 1/√D)', attn({ causal: false, scaled: false })),
  // T5 relative bias: keys up to 6 away reach past max_distance; the table (input 3) is a parameter.
  {
    name: 'attention T5 relative bias, bidirectional (8 buckets, max_distance 4), unscaled GQA',
    kind: 'attention',
    attrs: attn({ heads: 4, kv_heads: 2, causal: false, positions: 'relative', buckets: 8, max_distance: 4, scaled: false }),
    inputs: () => [...qkv(attn({ heads: 4, kv_heads: 2 }), 2, 7)(), normal([8, 4], { std: 0.5 })],
    params: [3],
  },
  {
    name: 'attention T5 relative bias, causal (6 buckets, max_distance 5)',
    kind: 'attention',
    attrs: attn({ positions: 'relative', buckets: 6, max_distance: 5 }),
    inputs: () => [...qkv(attn({}), 1, 8)(), normal([6, 2], { std: 0.5 })],
    params: [3],
  },
  // With training randomness the mask is a fixed function of (seed, step, stream, index).
  { ...attentionCase('attention causal, weight dropout 0.3', attn({ dropout: 0.3, stream: 11 })), rng: { seed: 5, step: 2 } },
  {
    ...attentionCase(
      'attention ALiBi bidirectional GQA, weight dropout 0.5',
      attn({ heads: 4, kv_heads: 2, positions: 'alibi', causal: false, dropout: 0.5, stream: 12 }),
    ),
    rng: { seed: 5, step: 3 },
  },
  { name: 'dropout p 0.5', kind: 'dropout', attrs: { p: 0.5, stream: 7 }, inputs: () => [normal([2, 3, 8])], rng: { seed: 9, step: 4 } },
  { name: 'dropout without rng (identity)', kind: 'dropout', attrs: { p: 0.5, stream: 7 }, inputs: () => [normal([3, 5])] },
  // logit_scale on the LM head's input (T5 tied: 1/√d_model).
  { name: 'scale (logit_scale)', kind: 'scale', attrs: { factor: 1 / Math.sqrt(512) }, inputs: () => [normal([2, 3, 8])] },
  { name: 'scale by 30', kind: 'scale', attrs: { factor: 30 }, inputs: () => [normal([5])] },
  { name: 'take_first', kind: 'take_first', attrs: {}, inputs: () => [normal([2, 3, 4])] },
  // Routing is an input here (i32), so a finite-difference step never changes which expert runs.
  {
    name: 'moe_gates renormalised (softmax over the k chosen)',
    kind: 'moe_gates',
    attrs: { renormalize: true },
    inputs: () => [normal([2, 3, 5], { std: 1.5 }), ints([2, 3, 2], [4, 1, 0, 2, 3, 0, 1, 4, 2, 3, 0, 1])],
  },
  {
    name: 'moe_gates not renormalised (softmax over all E, gathered)',
    kind: 'moe_gates',
    attrs: { renormalize: false },
    inputs: () => [normal([2, 3, 5], { std: 1.5 }), ints([2, 3, 2], [4, 1, 0, 2, 3, 0, 1, 4, 2, 3, 0, 1])],
  },
  {
    name: 'expert_linear (x shared by the k slots, no bias)',
    kind: 'expert_linear',
    attrs: { experts: 3, top_k: 2, bias: false },
    inputs: () => [normal([2, 3, 4]), ints([2, 3, 2], [0, 2, 1, 0, 2, 1, 0, 1, 2, 0, 1, 2]), normal([3, 5, 4], { std: 0.5 })],
    params: [2],
  },
  {
    name: 'expert_linear (x per slot, bias; expert 3 of 4 never chosen)',
    kind: 'expert_linear',
    attrs: { experts: 4, top_k: 2, bias: true },
    inputs: () => [
      normal([2, 3, 2, 4]),
      ints([2, 3, 2], [0, 2, 1, 0, 2, 1, 0, 1, 2, 0, 1, 2]),
      normal([4, 5, 4], { std: 0.5 }),
      normal([4, 5], { std: 0.5 }),
    ],
    params: [2, 3],
  },
  {
    name: 'moe_combine',
    kind: 'moe_combine',
    attrs: {},
    inputs: () => [normal([2, 3, 2, 4]), normal([2, 3, 2], { std: 0.5, mean: 0.5 })],
  },
  {
    name: 'moe_aux_loss (top-2 of 4, one expert never chosen)',
    kind: 'moe_aux_loss',
    attrs: { coef: 1, top_k: 2 },
    inputs: () => [normal([2, 3, 4], { std: 1.5 }), ints([2, 3, 2], [0, 1, 1, 2, 0, 2, 1, 0, 2, 1, 0, 1])],
  },
  {
    name: 'softmax_xent (one ignored target)',
    kind: 'softmax_xent',
    attrs: {},
    inputs: () => [normal([2, 3, 5], { std: 2 }), ints([2, 3], [4, 0, -100, 2, 2, 1])],
  },
];

const typeOf = (t: Tensor) => ({ dtype: t.data instanceof Int32Array ? ('i32' as const) : ('f32' as const), shape: t.shape });

function forward(c: Case, ins: readonly Tensor[]): Tensor {
  const outType = opDef(c.kind).shape(ins.map(typeOf), c.attrs as never);
  if (typeof outType === 'string') throw new Error(`${c.name}: ${outType}`);
  return interpretOp(c.kind, ins, c.attrs as never, outType, ENV, c.rng);
}

function projection(out: Tensor, r: Float32Array): number {
  let s = 0;
  for (let i = 0; i < r.length; i++) s += out.data[i]! * r[i]!;
  return s;
}

const measured: { name: string; input: number; err: number }[] = [];

afterAll(() => {
  const worst = [...measured].sort((a, b) => b.err - a.err).slice(0, 5);
  console.log(
    `VJP vs finite differences: ${measured.length} input tensors, worst relative errors:\n${worst.map((m) => `  ${m.err.toExponential(2)}  ${m.name} input ${m.input}`).join('\n')}`,
  );
});

describe('VJP table', () => {
  it('has a rule for every op the GPT-2, Llama and Mixtral families train with', () => {
    const trainable: OpKind[] = [
      'embedding',
      'sinusoidal',
      'add',
      'layernorm',
      'rmsnorm',
      'linear',
      'gelu',
      'gelu_tanh',
      'relu',
      'silu',
      'tanh',
      'glu',
      'rope',
      'attention',
      'take_first',
      'softmax_xent',
      'moe_gates',
      'expert_linear',
      'moe_combine',
      'moe_aux_loss',
    ];
    for (const k of trainable) expect('backward' in VJP[k], k).toBe(true);
    // Its output is integer indices: autodiff never reaches it (test/passes/autodiff.test.ts).
    expect(vjpRule('moe_select', { top_k: 2 })).toMatch(/integer expert indices/);
    expect(typeof vjpRule('attention', attn({ positions: 'relative', buckets: 8, max_distance: 16 }))).toBe('object');
    expect(typeof vjpRule('attention', attn({ positions: 'alibi' }))).toBe('object');
  });

  it('every trainable op kind is covered by a finite-difference case below', () => {
    const covered = new Set(CASES.map((c) => c.kind));
    const withRule = (Object.keys(VJP) as OpKind[]).filter((k) => 'backward' in VJP[k]);
    expect(withRule.filter((k) => !covered.has(k))).toEqual([]);
  });
});

describe.each(CASES)('VJP of $name', (c) => {
  const ins = c.inputs();
  const out = forward(c, ins);
  const rng = makeRng(seed++);
  const r = Float32Array.from({ length: out.data.length }, () => rng.normal());
  const dout: Tensor = { shape: out.shape, data: r };
  const grads = applyVjp(c.kind, c.attrs as never, ins, out, dout, c.rng);

  it('saves exactly the scratch the op table lists', () => {
    const rule = vjpRule(c.kind, c.attrs as never);
    if (typeof rule === 'string') throw new Error(rule);
    const extra = rule.save ? rule.save(ins, out, c.attrs as never) : [];
    const want = opDef(c.kind).saved(ins.map(typeOf), c.attrs as never).extra;
    expect(extra.map((t) => t.shape)).toEqual(want.map((t) => t.shape));
  });

  it('gives a cotangent of the input shape for each float input, none for i32 inputs', () => {
    expect(grads.length).toBe(ins.length);
    ins.forEach((t, i) => {
      if (t.data instanceof Int32Array) expect(grads[i], `input ${i}`).toBeNull();
      else expect(grads[i]?.shape, `input ${i}`).toEqual(t.shape);
    });
  });

  it('reads only the saved inputs (op table), the output if saved, the scratch and parameters', () => {
    const rule = vjpRule(c.kind, c.attrs as never);
    if (typeof rule === 'string') throw new Error(rule);
    const extra = rule.save ? rule.save(ins, out, c.attrs as never) : [];
    const saved = opDef(c.kind).saved(ins.map(typeOf), c.attrs as never);
    const poison = (t: Tensor): Tensor =>
      t.data instanceof Int32Array ? t : { shape: t.shape, data: new Float32Array(t.data.length).fill(NaN) };
    const kept = ins.map((t, i) => (saved.inputs.includes(i) || c.params?.includes(i) ? t : poison(t)));
    const again = rule.backward({
      inputs: kept,
      output: saved.output ? out : poison(out),
      extra,
      dout,
      attrs: c.attrs as never,
      rng: c.rng,
    });
    again.forEach((g, i) => expect(g?.data, `input ${i}`).toEqual(grads[i]?.data));
  });

  const floatInputs = ins.flatMap((t, i) => (t.data instanceof Float32Array ? [i] : []));
  it.runIf(floatInputs.length > 0).each(floatInputs)(`matches central finite differences on input %i (rel ${REL_TOL})`, (i) => {
    const x = ins[i]!.data as Float32Array;
    const g = grads[i]!.data;
    let worst = 0;
    let scale = 0;
    for (let e = 0; e < x.length; e++) {
      const x0 = x[e]!;
      const plus = Math.fround(x0 + (c.step ?? STEP));
      const minus = Math.fround(x0 - (c.step ?? STEP));
      const at = (v: number) => {
        const copy = Float32Array.from(x);
        copy[e] = v;
        return projection(
          forward(
            c,
            ins.map((t, j) => (j === i ? { shape: t.shape, data: copy } : t)),
          ),
          r,
        );
      };
      const fd = (at(plus) - at(minus)) / (plus - minus);
      worst = Math.max(worst, Math.abs(fd - g[e]!));
      scale = Math.max(scale, Math.abs(g[e]!));
    }
    expect(scale, 'the gradient is not identically zero').toBeGreaterThan(1e-3);
    const rel = worst / scale;
    measured.push({ name: c.name, input: i, err: rel });
    expect(rel).toBeLessThan(REL_TOL);
  });
});

describe('softmax_xent edge cases', () => {
  it('gives zero gradient when every target is ignored', () => {
    const z = normal([2, 4]);
    const y = ints([2], [-1, -100]);
    const out = interpretOp('softmax_xent', [z, y], {}, { dtype: 'f32', shape: [] }, ENV);
    const [dz, dy] = applyVjp('softmax_xent', {}, [z, y], out, fromArray([], [1]));
    expect([...dz!.data].every((v) => v === 0)).toBe(true);
    expect(dy).toBeNull();
  });

  it('each counted row of dz sums to zero and scales with dloss / N', () => {
    const z = normal([3, 5]);
    const y = ints([3], [1, -1, 4]);
    const out = interpretOp('softmax_xent', [z, y], {}, { dtype: 'f32', shape: [] }, ENV);
    const [dz] = applyVjp('softmax_xent', {}, [z, y], out, fromArray([], [2]));
    const row = (r: number) => [...dz!.data.slice(r * 5, r * 5 + 5)];
    expect(Math.abs(row(0).reduce((a, b) => a + b, 0))).toBeLessThan(1e-6);
    expect(row(1)).toEqual([0, 0, 0, 0, 0]);
    expect(row(2)[4]!).toBeLessThan(0); // the target's logit is pushed up
    expect(row(2)[4]! + 1).toBeGreaterThan(0); // by less than dloss / N = 1
  });
});
