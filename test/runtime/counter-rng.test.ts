/**
 * The counter-based random numbers of dropout on the CPU (the GPU twin is checked against
 * these in test/kernels/dropout.test.ts): the keep rate over 2²⁰ elements is within 5σ of
 * 1 − p, masks repeat for the same (seed, step, stream) and differ across steps, streams and
 * seeds (about as often as two independent masks would), every dropout site of a model gets
 * its own stream, and the interpreter's whole-graph forward applies them only when given
 * training randomness.
 */
import { describe, expect, it } from 'vitest';
import { initParams, interpretGraph } from '../../compiler/ir/interpret.js';
import { lower } from '../../compiler/ir/lower.js';
import { dropoutBits, dropoutKey, dropoutKeeps, dropoutStream, dropoutThreshold, pcgHash } from '../../runtime/counter-rng.js';
import { attention, gpt2Small, layer, layerNorm, mlp, model, stack } from '../helpers/model-builders.js';

const N = 1 << 20;

function mask(seed: number, step: number, stream: number, p: number, n = N): Uint8Array {
  const key = dropoutKey(seed, step, stream);
  const th = dropoutThreshold(p);
  return Uint8Array.from({ length: n }, (_, i) => (dropoutKeeps(key, i, th) ? 1 : 0));
}

describe('counter-based dropout masks', () => {
  it.each([0.1, 0.5])('p %f: keep rate over 2^20 elements within 5σ of 1 − p', (p) => {
    const kept = mask(1337, 12, dropoutStream('layers.3.mlp.dropout'), p).reduce((a, v) => a + v, 0);
    expect(Math.abs(kept - N * (1 - p))).toBeLessThan(5 * Math.sqrt(N * p * (1 - p)));
  });

  it('repeats for the same (seed, step, stream); differs across steps, streams (layers) and seeds', () => {
    const p = 0.5;
    const n = 1 << 16;
    const base = mask(7, 3, dropoutStream('layers.0.attn.dropout'), p, n);
    expect(mask(7, 3, dropoutStream('layers.0.attn.dropout'), p, n)).toEqual(base);
    const others = [
      mask(7, 4, dropoutStream('layers.0.attn.dropout'), p, n),
      mask(7, 3, dropoutStream('layers.1.attn.dropout'), p, n),
      mask(8, 3, dropoutStream('layers.0.attn.dropout'), p, n),
    ];
    for (const o of others) {
      const agree = o.reduce((a, v, i) => a + (v === base[i] ? 1 : 0), 0);
      // Independent masks agree on half the elements at p = 0.5: within 5σ of n/2.
      expect(Math.abs(agree - n / 2)).toBeLessThan(5 * Math.sqrt(n / 4));
    }
  });

  it('threshold and hash edges: p = 0 keeps everything, PCG is a bijection on a sample', () => {
    expect(dropoutThreshold(0)).toBe(0);
    expect(dropoutThreshold(0.5)).toBe(2 ** 31);
    expect(() => dropoutThreshold(1)).toThrow(/outside/);
    const seen = new Set<number>();
    for (let i = 0; i < 1 << 16; i++) seen.add(pcgHash(i * 65537));
    expect(seen.size).toBe(1 << 16);
    expect(dropoutBits(0, 0)).toBe(pcgHash(pcgHash(0)));
  });

  it('every dropout site of a model has its own stream', () => {
    const g = lower(gpt2Small()).graph; // dropout 0.1 everywhere: 1 + 12·2 sites and 12 attention ops
    const streams = g.nodes.flatMap((n) => (n.op === 'dropout' ? [n.attrs.stream] : n.op === 'attention' ? [n.attrs.stream!] : []));
    expect(streams.length).toBe(1 + 12 * 2 + 12);
    expect(new Set(streams).size).toBe(streams.length);
  });
});

describe('the interpreter applies dropout only with training randomness', () => {
  const block = layer({
    norm: layerNorm(),
    attention: attention({ heads: 2, head_dim: 8, dropout: 0.2 }),
    mlp: mlp('gelu', 32),
    dropout: 0.3,
  });
  const m = model({
    name: 'tiny',
    vocab: 11,
    context: 8,
    d_model: 16,
    embedding: { positions: { kind: 'learned' }, dropout: 0.1 },
    decoder: stack('decoder', 2, block, layerNorm()),
  });
  const g = lower(m).graph;
  const params = initParams(g, 3);
  const B = 2;
  const T = 6;
  const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 5) % 11);
  const inputs = new Map<string, Int32Array>([
    ['tokens', tokens],
    ['positions', Int32Array.from({ length: T }, (_, i) => i)],
    ['targets', Int32Array.from({ length: B * T }, (_, i) => (i + 1) % 11)],
  ]);
  const loss = (rng?: { seed: number; step: number }) => {
    const values = interpretGraph(g, { params, inputs, B, T, ...(rng ? { rng } : {}) });
    return values.get(g.outputs[g.outputs.length - 1]!)!.data[0]!;
  };

  it('eval (no rng) is deterministic and unchanged; training losses repeat per (seed, step) and move with the step', () => {
    expect(g.nodes.filter((n) => n.op === 'dropout').length).toBe(5);
    const evalLoss = loss();
    const plainGraph = lower({ ...m, embedding: { ...m.embedding, dropout: 0 } }).graph;
    expect(plainGraph.nodes.filter((n) => n.op === 'dropout').length).toBe(4);
    const a = loss({ seed: 1, step: 0 });
    expect(loss({ seed: 1, step: 0 })).toBe(a);
    expect(Math.abs(a - evalLoss)).toBeGreaterThan(1e-4);
    expect(Math.abs(loss({ seed: 1, step: 1 }) - a)).toBeGreaterThan(1e-4);
  });
});
