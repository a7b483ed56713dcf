/**
 * Whole-model gradients of the autodiff pass against central finite differences of the loss.
 *
 * Each model is lowered from builder specs, given random weights of a realistic size
 * (matrices N(0, 0.25²), norm scales 1 + N(0, 0.1²), biases N(0, 0.05²), as the PyTorch
 * fixtures use, so no path is negligible), and fed a fixed batch with one ignored target.
 * For a few entries of every parameter, the gradient of `gradients()` is compared with
 * (L(θ + h) − L(θ − h)) / (θ₊ − θ₋), L the mean cross-entropy recomputed in f64 from the
 * interpreter's logits (the f32 loss value would add rounding noise of its own).
 *
 * The difference quotient is Richardson-extrapolated, (4·D(h) − D(2h)) / 3 with h = 2⁻⁷, which
 * cancels the h² truncation term; what remains is the f32 rounding of a whole forward pass,
 * ~1e-5 in the quotient (measured: a gradient that is exactly zero, the key bias's, shows
 * |fd| up to 4e-6). Tolerance: |fd − grad| ≤ 1e-3·|grad| + 3e-5.
 */
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../compiler/ir/graph.js';
import { interpretGraph, type GraphData } from '../../compiler/ir/interpret.js';
import { lower } from '../../compiler/ir/lower.js';
import { makeRng } from '../../runtime/random.js';
import { verify } from '../../compiler/ir/verify.js';
import { backward, gradients, lossOf } from '../../compiler/passes/autodiff.js';
import type { ModelSpec } from '../../compiler/semantics/model.js';
import { attention, layer, layerNorm, mlp, model, moe, rmsNorm, stack } from '../helpers/model-builders.js';

const STEP = 2 ** -7;
const REL = 1e-3;
const ABS = 3e-5;
const B = 2;
const T = 5;

function lowered(m: ModelSpec): Graph {
  const { graph, diagnostics } = lower(m);
  expect(diagnostics).toEqual([]);
  expect(verify(graph)).toEqual([]);
  return graph;
}

function randomParams(g: Graph, seed: number): Map<string, Float32Array> {
  const rng = makeRng(seed);
  return new Map(
    g.params.map((p) => {
      const n = p.shape.reduce((a, d) => a * d, 1);
      const draw =
        p.shape.length >= 2
          ? () => 0.25 * rng.normal()
          : p.component === 'norms' && p.name.endsWith('.weight')
            ? () => 1 + 0.1 * rng.normal()
            : () => 0.05 * rng.normal();
      return [p.name, Float32Array.from({ length: n }, draw)];
    }),
  );
}

function batch(g: Graph, vocab: number, seed: number): Map<string, Int32Array> {
  const rng = makeRng(seed);
  const ids = () => Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * vocab));
  const out = new Map<string, Int32Array>();
  for (const id of g.inputs) {
    const { name } = g.values[id]!;
    if (name.endsWith('positions'))
      out.set(
        name,
        Int32Array.from({ length: T }, (_, i) => i),
      );
    else if (name.endsWith('segments'))
      out.set(
        name,
        Int32Array.from({ length: B * T }, (_, i) => (i % T < 2 ? 0 : 1)),
      );
    else if (name === 'targets') {
      const y = ids();
      y[3] = -100; // one ignored position
      out.set(name, y);
    } else out.set(name, ids());
  }
  return out;
}

/** Mean cross-entropy in f64 from the interpreter's logits (the graph's first output). */
function lossF64(g: Graph, data: GraphData): number {
  const values = interpretGraph(g, data);
  const z = values.get(g.outputs[0]!)!.data;
  const y = data.inputs.get('targets')!;
  const V = z.length / y.length;
  let total = 0;
  let n = 0;
  for (let r = 0; r < y.length; r++) {
    if (y[r]! < 0) continue;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, z[r * V + v]!);
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(z[r * V + v]! - max);
    total += max + Math.log(s) - z[r * V + y[r]!]!;
    n++;
  }
  return total / n;
}

interface Check {
  param: string;
  index: number;
  grad: number;
  fd: number;
  bound: number;
}

/** Finite differences on `perParam` random entries of every parameter (plus `extra` chosen ones). */
function fdChecks(g: Graph, data: GraphData, grads: Map<string, Float32Array>, perParam: number, extra: [string, number][] = []): Check[] {
  const rng = makeRng(99);
  const picks: [string, number][] = [...extra];
  for (const p of g.params) {
    const n = grads.get(p.name)!.length;
    for (let k = 0; k < perParam; k++) picks.push([p.name, Math.floor(rng.uniform() * n)]);
  }
  return picks.map(([name, index]) => {
    const theta = data.params.get(name)!;
    const at = (v: number) => {
      const copy = Float32Array.from(theta);
      copy[index] = v;
      return lossF64(g, { ...data, params: new Map(data.params).set(name, copy) });
    };
    const central = (h: number) => {
      const plus = Math.fround(theta[index]! + h);
      const minus = Math.fround(theta[index]! - h);
      return (at(plus) - at(minus)) / (plus - minus);
    };
    // Richardson: D(h) = g + c·h² + O(h⁴), so (4·D(h) − D(2h)) / 3 = g + O(h⁴).
    const fd = (4 * central(STEP) - central(2 * STEP)) / 3;
    const grad = grads.get(name)![index]!;
    return { param: name, index, grad, fd, bound: REL * Math.abs(grad) + ABS };
  });
}

function expectChecks(checks: Check[], label: string): void {
  const bad = checks.filter((c) => !(Math.abs(c.fd - c.grad) <= c.bound));
  const big = checks.filter((c) => Math.abs(c.grad) > 1e-2);
  const worstAbs = Math.max(...checks.map((c) => Math.abs(c.fd - c.grad)));
  const worstRel = Math.max(...big.map((c) => Math.abs(c.fd - c.grad) / Math.abs(c.grad)));
  console.log(
    `${label}: ${checks.length} entries; max |fd − grad| ${worstAbs.toExponential(2)}; max relative (|grad| > 1e-2) ${worstRel.toExponential(2)}`,
  );
  expect(bad.map((c) => `${c.param}[${c.index}]: grad ${c.grad}, fd ${c.fd}`)).toEqual([]);
}

// ── models ────────────────────────────────────────────────────────────────────────

const gpt2Tiny = (): ModelSpec =>
  model({
    name: 'gpt2-tiny',
    vocab: 23,
    context: 8,
    d_model: 16,
    embedding: { positions: { kind: 'learned' }, tied: true },
    decoder: stack(
      'decoder',
      2,
      layer({ norm: layerNorm(1e-5), attention: attention({ heads: 2, head_dim: 8, bias: true }), mlp: mlp('gelu_tanh', 32, true) }),
      layerNorm(1e-5),
    ),
  });

const llamaTiny = (): ModelSpec =>
  model({
    name: 'llama-tiny',
    vocab: 19,
    context: 8,
    d_model: 16,
    embedding: { positions: { kind: 'rope', base: 10000, fraction: 1 } },
    decoder: stack(
      'decoder',
      2,
      layer({ norm: rmsNorm(1e-5), attention: attention({ heads: 4, kv_heads: 2, head_dim: 4, window: 3 }), mlp: mlp('swiglu', 24) }),
      rmsNorm(1e-5),
    ),
  });

/** The other knobs in one model: ALiBi, a parallel block, a post-norm block, ReLU and GeGLU MLPs, sinusoids, an embedding norm. */
const mixedTiny = (): ModelSpec =>
  model({
    name: 'mixed-tiny',
    vocab: 17,
    context: 8,
    d_model: 12,
    embedding: { positions: { kind: 'sinusoidal' }, norm: layerNorm(1e-5), tied: true },
    decoder: stack(
      'decoder',
      2,
      (i) =>
        i === 0
          ? layer({
              norm: layerNorm(1e-5),
              parallel: true,
              attention: attention({ heads: 3, head_dim: 4, bias: true }),
              mlp: mlp('relu', 20, true),
            })
          : layer({ norm: rmsNorm(1e-5), placement: 'post', attention: attention({ heads: 3, head_dim: 4 }), mlp: mlp('geglu', 16) }),
      layerNorm(1e-5),
    ),
    head: { kind: 'lm', bias: true },
  });

/** BERT-like: bidirectional ALiBi-free encoder with segments, MLM loss and an (unused) pooler. */
const bertTiny = (): ModelSpec =>
  model({
    name: 'bert-tiny',
    vocab: 13,
    context: 8,
    d_model: 8,
    embedding: { positions: { kind: 'learned' }, segments: 2, norm: layerNorm(1e-12) },
    encoder: stack(
      'encoder',
      1,
      layer({
        norm: layerNorm(1e-12),
        placement: 'post',
        attention: attention({ heads: 2, head_dim: 4, causal: false, bias: true }),
        mlp: mlp('gelu', 16, true),
      }),
      null,
    ),
    head: { kind: 'lm', pooler: true },
  });

function setup(m: ModelSpec, seed: number) {
  const g = lowered(m);
  const data: GraphData = { params: randomParams(g, seed), inputs: batch(g, m.vocab, seed + 1), B, T };
  return { g, data };
}

describe.each([
  ['GPT-2-like (learned positions, LayerNorm, GELU-tanh, biases, tied head)', gpt2Tiny, 3],
  ['Llama-like (RoPE, RMSNorm, SwiGLU, GQA, window, untied head)', llamaTiny, 3],
  ['mixed (sinusoids, embedding norm, parallel + post-norm blocks, ReLU, GeGLU, head bias)', mixedTiny, 2],
  ['BERT-like (bidirectional, segments, MLM loss, pooler)', bertTiny, 2],
] as const)('gradients of %s', (label, build, perParam) => {
  const { g, data } = setup(build(), 17);
  const result = gradients(g, data);

  it('returns the interpreter loss and a finite gradient for every parameter', () => {
    const values = interpretGraph(g, data);
    expect(result.loss).toBe(values.get(lossOf(g))!.data[0]);
    expect([...result.grads.keys()]).toEqual(g.params.map((p) => p.name));
    for (const p of g.params) {
      const gr = result.grads.get(p.name)!;
      expect(gr.length, p.name).toBe(p.shape.reduce((a, d) => a * d, 1));
      expect(gr.every(Number.isFinite), p.name).toBe(true);
    }
  });

  it(`matches central finite differences (${perParam} entries per parameter)`, () => {
    const extra: [string, number][] = [];
    const tokens = data.inputs.get('tokens') as Int32Array;
    const C = g.params.find((p) => p.name === 'embed.tokens.weight')!.shape[1]!;
    extra.push(['embed.tokens.weight', tokens[0]! * C + 1]); // a row the lookup reads (and the head, if tied)
    expectChecks(fdChecks(g, data, result.grads, perParam, extra), label);
  });

  it('is deterministic (bitwise) from run to run', () => {
    const again = gradients(g, data);
    expect(again.loss).toBe(result.loss);
    for (const [name, gr] of result.grads) expect(again.grads.get(name), name).toEqual(gr);
  });
});

describe('the backward plan', () => {
  it('walks nodes in reverse topological order and sums a tied table from both readers', () => {
    const g = lowered(gpt2Tiny());
    const plan = backward(g, { loss: lossOf(g) });
    const ids = plan.order.map((s) => s.node.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const table = g.params.find((p) => p.name === 'embed.tokens.weight')!.value;
    const into = plan.order.flatMap((s) => s.node.inputs.flatMap((v, i) => (v === table ? [`${s.node.op}:${s.into[i]}`] : [])));
    expect(into).toEqual(['linear:write', 'embedding:add']); // the LM head first, then the lookup adds in
    expect(plan.grads.get('embed.tokens.weight')).toBe(table);
    expect(plan.unused).toEqual([]);
  });

  it('the tied gradient is the sum of the untied embedding and head gradients', () => {
    const tied = setup(gpt2Tiny(), 5);
    const untiedSpec = gpt2Tiny();
    const untied = lowered({ ...untiedSpec, embedding: { ...untiedSpec.embedding, tied: false } });
    const params = new Map(tied.data.params).set('lm_head.weight', tied.data.params.get('embed.tokens.weight')!);
    const a = gradients(tied.g, tied.data).grads.get('embed.tokens.weight')!;
    const u = gradients(untied, { ...tied.data, params }).grads;
    const sum = u.get('lm_head.weight')!.map((v, i) => v + u.get('embed.tokens.weight')![i]!);
    expect(a).toEqual(sum);
  });

  it('gives every residual-stream value one write and the rest adds, and no cotangent to ids', () => {
    const g = lowered(llamaTiny());
    const plan = backward(g, { loss: lossOf(g) });
    const writes = new Map<number, number>();
    for (const s of plan.order) {
      s.node.inputs.forEach((v, i) => {
        if (g.values[v]!.type.dtype === 'i32') expect(s.into[i]).toBeNull();
        if (s.into[i] === 'write') writes.set(v, (writes.get(v) ?? 0) + 1);
      });
    }
    expect([...writes.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(writes.keys())).toContain(g.params[0]!.value);
  });

  it('leaves parameters the loss does not read out of the plan, with zero gradients', () => {
    const { g, data } = setup(bertTiny(), 3);
    const plan = backward(g, { loss: lossOf(g) });
    expect(plan.unused).toEqual(['pooler.weight', 'pooler.bias']);
    const grads = gradients(g, data).grads;
    expect([...grads.get('pooler.weight')!].every((v) => v === 0)).toBe(true);
  });

  it('rejects a loss that is not a float scalar', () => {
    const g = lowered(gpt2Tiny());
    expect(() => backward(g, { loss: g.outputs[0]! })).toThrow(/float scalar/);
  });
});

describe('mixture of experts', () => {
  it('plans the MoE ops; the integer top-k choice takes no cotangent', () => {
    const m = model({
      vocab: 11,
      context: 8,
      d_model: 8,
      embedding: { positions: { kind: 'rope', base: 10000, fraction: 1 } },
      decoder: stack(
        'decoder',
        1,
        layer({ norm: rmsNorm(), attention: attention({ heads: 2, head_dim: 4 }), mlp: mlp('swiglu', 8), moe: moe(4, 2) }),
        rmsNorm(),
      ),
    });
    const g = lowered(m);
    const plan = backward(g, { loss: lossOf(g) });
    const planned = plan.order.map((s) => s.node.op);
    for (const op of ['moe_gates', 'expert_linear', 'moe_combine'] as const) expect(planned, op).toContain(op);
    expect(planned).not.toContain('moe_select');
    // expert_linear: x gets a cotangent, the index none, the stacked weights theirs.
    const el = plan.order.find((s) => s.node.op === 'expert_linear')!;
    expect(el.into[1]).toBeNull();
    expect(el.into[2]).toBe('write');
    expect([...plan.grads.keys()]).toEqual(expect.arrayContaining(['layers.0.moe.router.weight', 'layers.0.moe.experts.gate.weight']));
  });
});

describe('the T5 relative bias', () => {
  it("differentiates attention with the T5 relative bias: the stack's one table collects both layers' gradients", () => {
    const m = model({
      vocab: 11,
      context: 8,
      d_model: 8,
      embedding: { positions: { kind: 'relative', buckets: 8, max_distance: 16 }, tied: true },
      decoder: stack(
        'decoder',
        2,
        layer({ norm: rmsNorm(), attention: attention({ heads: 2, head_dim: 4 }), mlp: mlp('relu', 8) }),
        rmsNorm(),
      ),
    });
    const g = lowered(m);
    const plan = backward(g, { loss: lossOf(g) });
    expect([...plan.grads.keys()]).toContain('rel_bias.weight');
    const readers = plan.order.filter((s) => s.node.op === 'attention');
    expect(readers.length).toBe(2);
    // The first contribution (in reverse order) writes the table's gradient, the second adds to it.
    expect(readers.map((s) => s.into[3])).toEqual(['write', 'add']);
  });
});
