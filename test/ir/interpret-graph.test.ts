/**
 * Whole lowered graphs on the CPU interpreter, the GPT-2-style initialisation and the shared
 * PRNG. A model at init must give a finite loss close to ln(vocab): the weights are small, so
 * the logits are nearly uniform.
 */
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../compiler/ir/graph.js';
import { initParams, initRules, interpretGraph, type Tensor } from '../../compiler/ir/interpret.js';
import { lower } from '../../compiler/ir/lower.js';
import { deriveSeed, makeRng } from '../../runtime/random.js';
import { verify } from '../../compiler/ir/verify.js';
import type { ModelSpec } from '../../compiler/semantics/model.js';
import { attention, layer, layerNorm, mlp, model, moe, rmsNorm, stack, tinyDecoder } from '../helpers/model-builders.js';

function lowered(m: ModelSpec): Graph {
  const { graph, diagnostics } = lower(m);
  expect(diagnostics).toEqual([]);
  expect(verify(graph)).toEqual([]);
  return graph;
}

/** Random ids for every id input, 0…n−1 for positions, zeros for segments. */
function inputsFor(g: Graph, vocab: number, B: number, T: number, S: number, seed = 7): Map<string, Int32Array> {
  const rng = makeRng(seed);
  const out = new Map<string, Int32Array>();
  for (const id of g.inputs) {
    const { name } = g.values[id]!;
    const len = name.startsWith('src_') ? S : T;
    if (name.endsWith('positions'))
      out.set(
        name,
        Int32Array.from({ length: len }, (_, i) => i),
      );
    else if (name.endsWith('segments')) out.set(name, new Int32Array(B * len));
    else
      out.set(
        name,
        Int32Array.from({ length: B * len }, () => Math.floor(rng.uniform() * vocab)),
      );
  }
  return out;
}

interface Run {
  values: Map<number, Tensor>;
  outputs: Tensor[];
}

function runModel(g: Graph, m: ModelSpec, B: number, T: number, S = T, inputs = inputsFor(g, m.vocab, B, T, S)): Run {
  const values = interpretGraph(g, { params: initParams(g, 1234), inputs, B, T, S });
  return { values, outputs: g.outputs.map((id) => values.get(id)!) };
}

function expectLossAtInit(m: ModelSpec, B = 2, T = 5, S = T): Run {
  const g = lowered(m);
  const r = runModel(g, m, B, T, S);
  const [logits, loss] = r.outputs as [Tensor, Tensor];
  expect(logits.shape).toEqual([B, T, m.vocab]);
  expect(logits.data.every(Number.isFinite)).toBe(true);
  expect(loss.shape).toEqual([]);
  expect(Math.abs(loss.data[0]! - Math.log(m.vocab))).toBeLessThan(0.1);
  expect(r.values.size).toBe(g.values.length); // every value is kept
  return r;
}

// ── tiny models ─────────────────────────────────────────────────────────────────────

const gpt2Tiny = () =>
  model({
    name: 'gpt2-tiny',
    vocab: 97,
    context: 16,
    d_model: 32,
    embedding: { positions: { kind: 'learned' }, tied: true },
    decoder: stack(
      'decoder',
      2,
      layer({
        norm: layerNorm(),
        attention: attention({ heads: 4, head_dim: 8, bias: true }),
        mlp: mlp('gelu_tanh', 128, true),
      }),
      layerNorm(),
    ),
  });

const llamaTiny = () => tinyDecoder({ attention: attention({ heads: 4, kv_heads: 2, head_dim: 16 }), mlp: mlp('swiglu', 96) });

const t5Tiny = () => {
  const norm = rmsNorm(1e-6);
  const attn = (causal: boolean) => attention({ heads: 4, head_dim: 8, causal });
  const common = { norm, mlp: mlp('relu', 64) };
  return model({
    name: 't5-tiny',
    vocab: 64,
    context: 16,
    d_model: 32,
    embedding: { positions: { kind: 'relative', buckets: 8, max_distance: 16 }, tied: true },
    encoder: stack('encoder', 2, layer({ ...common, attention: attn(false) }), norm),
    decoder: stack('decoder', 2, layer({ ...common, attention: attn(true), cross_attention: attn(false) }), norm),
  });
};

const bertTiny = () =>
  model({
    name: 'bert-tiny',
    vocab: 50,
    context: 16,
    d_model: 32,
    embedding: { positions: { kind: 'learned' }, segments: 2, norm: layerNorm(1e-12) },
    encoder: stack(
      'encoder',
      2,
      layer({
        norm: layerNorm(1e-12),
        placement: 'post',
        attention: attention({ heads: 4, head_dim: 8, causal: false, bias: true }),
        mlp: mlp('gelu', 64, true),
      }),
      null,
    ),
    head: { kind: 'none', pooler: true },
  });

// ── end to end ──────────────────────────────────────────────────────────────────────

describe('interpretGraph: tiny models at init', () => {
  it('GPT-2-like (learned positions, LayerNorm, gelu_tanh, tied head): loss ≈ ln V', () => {
    expectLossAtInit(gpt2Tiny());
  });

  it('Llama-like (RoPE, RMSNorm, SwiGLU, GQA, untied head): loss ≈ ln V', () => {
    expectLossAtInit(llamaTiny());
  });

  it('Mixtral-like (routed experts, top-2 of 4): loss ≈ ln V', () => {
    expectLossAtInit(tinyDecoder({ mlp: mlp('swiglu', 48), moe: moe(4, 2) }));
  });

  it('ALiBi with a sliding window, and sinusoidal positions with a parallel block', () => {
    const windowed = { attention: attention({ heads: 4, head_dim: 16, window: 3 }) };
    expectLossAtInit(tinyDecoder(windowed, { embedding: { positions: { kind: 'alibi' } } }));
    const parallel = { parallel: true, norm: layerNorm() };
    expectLossAtInit(tinyDecoder(parallel, { embedding: { positions: { kind: 'sinusoidal' } } }), 1, 7);
  });

  it('T5-like encoder–decoder (relative bias, cross-attention, S ≠ T): loss ≈ ln V', () => {
    expectLossAtInit(t5Tiny(), 2, 3, 5);
  });

  it('BERT-like encoder with pooler: hidden states and tanh-bounded pooled output', () => {
    const m = bertTiny();
    const g = lowered(m);
    const [hidden, pooled] = runModel(g, m, 2, 4).outputs as [Tensor, Tensor];
    expect(hidden.shape).toEqual([2, 4, 32]);
    expect(pooled.shape).toEqual([2, 32]);
    expect(pooled.data.every((x) => Number.isFinite(x) && Math.abs(x) < 1)).toBe(true);
  });
});

describe('interpretGraph: causality through a whole model', () => {
  for (const [name, make] of [
    ['GPT-2-like', gpt2Tiny],
    ['Llama-like', llamaTiny],
  ] as const) {
    it(`${name}: changing the last token changes only the last position's logits`, () => {
      const m = make();
      const g = lowered(m);
      const B = 1;
      const T = 6;
      const inputs = inputsFor(g, m.vocab, B, T, T);
      const tokens = inputs.get('tokens')!;
      const changed = new Map(inputs);
      changed.set(
        'tokens',
        Int32Array.from(tokens, (t, i) => (i === T - 1 ? (t + 1) % m.vocab : t)),
      );
      const a = runModel(g, m, B, T, T, inputs).outputs[0]!.data;
      const b = runModel(g, m, B, T, T, changed).outputs[0]!.data;
      const V = m.vocab;
      expect([...b.subarray(0, (T - 1) * V)]).toEqual([...a.subarray(0, (T - 1) * V)]);
      expect([...b.subarray((T - 1) * V)]).not.toEqual([...a.subarray((T - 1) * V)]);
    });
  }

  it('BERT-like (bidirectional): changing the last token changes the first position', () => {
    const m = bertTiny();
    const g = lowered(m);
    const inputs = inputsFor(g, m.vocab, 1, 4, 4);
    const changed = new Map(inputs);
    changed.set(
      'tokens',
      Int32Array.from(inputs.get('tokens')!, (t, i) => (i === 3 ? (t + 1) % m.vocab : t)),
    );
    const first = (r: Run) => [...r.outputs[0]!.data.subarray(0, 32)];
    expect(first(runModel(g, m, 1, 4, 4, changed))).not.toEqual(first(runModel(g, m, 1, 4, 4, inputs)));
  });
});

describe('interpretGraph: clear errors for data that does not fit', () => {
  const m = gpt2Tiny();
  const g = lowered(m);
  const params = initParams(g, 1);
  const inputs = inputsFor(g, m.vocab, 2, 5, 5);

  it('missing and unknown parameters', () => {
    const missing = new Map(params);
    missing.delete('layers.1.mlp.down.weight');
    expect(() => interpretGraph(g, { params: missing, inputs, B: 2, T: 5 })).toThrow(
      "missing parameter 'layers.1.mlp.down.weight' (32, 128)",
    );
    const extra = new Map(params).set('lm_head.weight', new Float32Array(1));
    expect(() => interpretGraph(g, { params: extra, inputs, B: 2, T: 5 })).toThrow("unknown parameter 'lm_head.weight'");
    const short = new Map(params).set('norm.weight', new Float32Array(31));
    expect(() => interpretGraph(g, { params: short, inputs, B: 2, T: 5 })).toThrow("parameter 'norm.weight' has 31 values; (32) needs 32");
  });

  it('missing, unknown, mistyped and wrongly sized inputs', () => {
    const without = new Map(inputs);
    without.delete('targets');
    expect(() => interpretGraph(g, { params, inputs: without, B: 2, T: 5 })).toThrow("missing input 'targets' i32(B, T)");
    const typo = new Map(inputs).set('token', new Int32Array(10));
    expect(() => interpretGraph(g, { params, inputs: typo, B: 2, T: 5 })).toThrow(
      "unknown input 'token'; the graph's inputs are tokens, positions, targets",
    );
    const floats = new Map<string, Int32Array | Float32Array>(inputs).set('tokens', new Float32Array(10));
    expect(() => interpretGraph(g, { params, inputs: floats, B: 2, T: 5 })).toThrow("input 'tokens' must be an Int32Array");
    expect(() => interpretGraph(g, { params, inputs, B: 2, T: 4 })).toThrow("input 'tokens' has 10 values; (2, 4) needs 8");
  });

  it('an id outside the vocabulary names the node', () => {
    const bad = new Map(inputs).set('tokens', new Int32Array(10).fill(97));
    expect(() => interpretGraph(g, { params, inputs: bad, B: 2, T: 5 })).toThrow(
      /^node 0 \(embedding at embed\): embedding id 97 at flat index 0 is outside the table of 97 rows$/,
    );
  });

  it('an encoder–decoder graph needs S', () => {
    const t5 = t5Tiny();
    const tg = lowered(t5);
    const data = { params: initParams(tg, 1), inputs: inputsFor(tg, t5.vocab, 1, 3, 3), B: 1, T: 3 };
    expect(() => interpretGraph(tg, data)).toThrow("input 'src_tokens' has dim S, which is not bound to a size (got NaN)");
  });
});

// ── initialisation ──────────────────────────────────────────────────────────────────

const std = (a: Float32Array) => {
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  return Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
};

describe('initParams: GPT-2-style', () => {
  const g = lowered(gpt2Tiny());

  it('rules: N(0, 0.02) for matrices, 0.02/√(2L) for residual projections, 0 for biases, 1 for norm scales', () => {
    const rules = initRules(g);
    expect(rules.get('embed.tokens.weight')).toEqual({ kind: 'normal', std: 0.02 });
    expect(rules.get('embed.positions.weight')).toEqual({ kind: 'normal', std: 0.02 });
    expect(rules.get('layers.0.attn.q.weight')).toEqual({ kind: 'normal', std: 0.02 });
    expect(rules.get('layers.0.mlp.up.weight')).toEqual({ kind: 'normal', std: 0.02 });
    // L = 2: 0.02 / √4
    expect(rules.get('layers.0.attn.o.weight')).toEqual({ kind: 'normal', std: 0.01 });
    expect(rules.get('layers.1.mlp.down.weight')).toEqual({ kind: 'normal', std: 0.01 });
    expect(rules.get('layers.1.attn.o.bias')).toEqual({ kind: 'zeros' });
    expect(rules.get('layers.0.attn_norm.weight')).toEqual({ kind: 'ones' });
    expect(rules.get('norm.bias')).toEqual({ kind: 'zeros' });
  });

  it('draws values with the stated spread', () => {
    const p = initParams(g, 3);
    expect(std(p.get('embed.tokens.weight')!)).toBeCloseTo(0.02, 3);
    expect(std(p.get('layers.0.mlp.down.weight')!)).toBeCloseTo(0.01, 3);
    expect(p.get('layers.0.mlp.up.bias')!.every((x) => x === 0)).toBe(true);
    expect(p.get('norm.weight')!.every((x) => x === 1)).toBe(true);
    expect(p.size).toBe(g.params.length);
  });

  it('is deterministic per (seed, name), independent of the other parameters', () => {
    const a = initParams(g, 5);
    expect(initParams(g, 5)).toEqual(a);
    expect(initParams(g, 6).get('layers.0.attn.q.weight')).not.toEqual(a.get('layers.0.attn.q.weight'));
    // a three-layer model shares names and shapes with the two-layer one
    const deeper = lowered({ ...gpt2Tiny(), decoder: stack('decoder', 3, gpt2Tiny().decoder!.layers[0]!, layerNorm()) });
    expect(initParams(deeper, 5).get('layers.0.attn.q.weight')).toEqual(a.get('layers.0.attn.q.weight'));
    expect(initRules(deeper).get('layers.0.attn.o.weight')).toEqual({ kind: 'normal', std: 0.02 / Math.sqrt(6) });
  });

  it('counts layers per stack; covers cross-attention, experts, shared experts and router', () => {
    const t5 = initRules(lowered(t5Tiny()));
    expect(t5.get('decoder.layers.1.cross_attn.o.weight')).toEqual({ kind: 'normal', std: 0.01 });
    expect(t5.get('encoder.layers.0.mlp.down.weight')).toEqual({ kind: 'normal', std: 0.01 });
    expect(t5.get('encoder.rel_bias.weight')).toEqual({ kind: 'normal', std: 0.02 });
    const mix = initRules(lowered(tinyDecoder({ mlp: mlp('swiglu', 48), moe: moe(4, 2, { shared_experts: 1 }) })));
    expect(mix.get('layers.0.moe.experts.down.weight')).toEqual({ kind: 'normal', std: 0.01 });
    expect(mix.get('layers.0.moe.shared.0.down.weight')).toEqual({ kind: 'normal', std: 0.01 });
    expect(mix.get('layers.0.moe.experts.gate.weight')).toEqual({ kind: 'normal', std: 0.02 });
    expect(mix.get('layers.0.moe.router.weight')).toEqual({ kind: 'normal', std: 0.02 });
  });
});

describe('makeRng: xoshiro128** seeded by splitmix32', () => {
  it('gives the reference stream (checked against an independent implementation)', () => {
    const r = makeRng(42);
    expect([r.nextU32(), r.nextU32(), r.nextU32(), r.nextU32(), r.nextU32()]).toEqual([
      2837322924, 544945897, 479756282, 3500138142, 339756180,
    ]);
  });

  it('uniform is in [0, 1) with mean ½; normal has mean 0 and variance 1', () => {
    const r = makeRng(1);
    const n = 40000;
    const u = Array.from({ length: n }, () => r.uniform());
    expect(u.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(u.reduce((s, x) => s + x, 0) / n).toBeCloseTo(0.5, 2);
    const z = Float32Array.from({ length: n }, () => r.normal());
    expect(z.reduce((s, x) => s + x, 0) / n).toBeCloseTo(0, 1);
    expect(std(z)).toBeCloseTo(1, 1);
    expect(z.filter((x) => Math.abs(x) > 1.96).length / n).toBeCloseTo(0.05, 2);
  });

  it('different seeds and labels give different streams', () => {
    expect(makeRng(1).nextU32()).not.toBe(makeRng(2).nextU32());
    expect(deriveSeed(1, 'a.weight')).not.toBe(deriveSeed(1, 'b.weight'));
    expect(deriveSeed(1, 'a.weight')).not.toBe(deriveSeed(2, 'a.weight'));
  });
});
