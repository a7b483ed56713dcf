/**
 * The attention group in GPU training plans with the T5 relative bias and unscaled scores:
 * a tiny two-layer decoder whose layers share one (buckets, heads) table (causal buckets, keys
 * up to T − 1 = 7 behind, past max_distance 5), GQA; and a tiny T5-like encoder–decoder
 * (bidirectional encoder over S = 8 source tokens past max_distance 6, decoder T = 6,
 * cross-attention over S ≠ T, one table per stack). One training step at lr = 0 on the real
 * adapter leaves ∂loss/∂θ in the gradient buffers; every parameter's gradient (the table's is
 * the sum of both layers' relative_bias_grad kernels) must match the CPU interpreter's autodiff
 * (compiler/passes/autodiff.ts, float64 sums; its attention VJP is finite-difference checked in
 * test/ir/vjp.test.ts). Tolerance |err| <= 2e-5 + 1e-3·|ref| per entry (f32 kernels).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { initRules } from '../../compiler/ir/interpret.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import type { Host } from '../../compiler/semantics/resolve.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { makeRng } from '../../runtime/random.js';
import { Trainer } from '../../runtime/train/trainer.js';

const SPEC = `model rel {
  vocab = 24, context = 8, d_model = 16, layers = 2
  embedding { positions: relative(buckets: 6, max_distance: 5) }
  block {
    norm: rmsnorm
    attention { heads: 4, kv_heads: 2, scaled: false }
    mlp { activation: relu, hidden: 32 }
  }
}`;
const SEQ2SEQ = `model t5ish {
  arch = encoder_decoder
  vocab = 24, context = 8, d_model = 16, layers = 2, bias = false
  embedding { positions: relative(buckets: 8, max_distance: 6), tied: true }
  block {
    norm: rmsnorm(eps: 1e-6)
    attention { heads: 4, kv_heads: 2, scaled: false }
    mlp { activation: relu, hidden: 32 }
  }
  encoder { layers: 2 }
  decoder { layers: 2 }
  final_norm = rmsnorm(eps: 1e-6)
}`;
const B = 2;

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

/**
 * One GPU training step at lr = 0 of `spec` (S source positions for an encoder–decoder) and
 * the worst gradient entry outside |err| <= 2e-5 + 1e-3·|ref| against the interpreter autodiff.
 */
async function compareStep(spec: string, T: number, S?: number): Promise<{ worst: string; tableGrad: Float32Array | undefined }> {
  const host: Host = { readFile: () => spec, charVocab: () => 24 };
  const r = compileFile('m.model', { host });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const m = r.models[0]!;
  const graph = m.graph!;
  const rng = makeRng(5);
  const weights = new Map(
    graph.params.map((p) => {
      const n = p.shape.reduce((a, d) => a * d, 1);
      const norm = p.component === 'norms';
      const scale = p.name.endsWith('rel_bias.weight') ? 1 : norm ? 0.1 : 0.3;
      return [p.name, Float32Array.from({ length: n }, () => (norm ? 1 : 0) + scale * rng.normal())];
    }),
  );
  const ids = (n: number) => Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * 24));
  const tokens = ids(B * T);
  const targets = ids(B * T);
  const sources = S === undefined ? undefined : ids(B * S);
  const inputs = new Map([['tokens', tokens], ['targets', targets], ...(sources ? [['src_tokens', sources] as [string, Int32Array]] : [])]);
  const want = gradients(graph, { params: weights, inputs, B, T, ...(S === undefined ? {} : { S }) });

  const opts = { B, T, ...(S === undefined ? {} : { S }), tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize };
  const rules = initRules(graph);
  const params = graph.params.map((p) => ({ name: p.name, shape: p.shape, decay: p.decay, init: rules.get(p.name)! }));
  const trainer = await Trainer.create(gpu, params, {
    train: planTraining(m.spec, graph, { ...opts, clip: 0 }),
    eval: planModel(m.spec, graph, { mode: 'forward', ...opts }),
  });
  try {
    trainer.init(0);
    trainer.setState(weights);
    const res = await trainer.submitAccumulated(1, [{ inputs: tokens, targets, ...(sources ? { sources } : {}) }], 0, {
      lr: 0,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0,
    });
    expect(res.nonfinite).toBe(false);
    expect(Math.abs(res.loss - want.loss)).toBeLessThan(1e-5);
    const plan = trainer.plans.train.train!;
    let worst = { name: '', err: 0 };
    for (const p of plan.params) {
      const ref = want.grads.get(p.name)!;
      const got = await (
        trainer as unknown as { train: { readF32(n: string, at: number, count: number): Promise<Float32Array> } }
      ).train.readF32(p.grad, p.offset, p.numel);
      for (let i = 0; i < ref.length; i++) {
        const err = Math.abs(got[i]! - ref[i]!);
        const tol = 2e-5 + 1e-3 * Math.abs(ref[i]!);
        // !(err <= tol): a NaN gradient fails; the worst (or first NaN) is reported.
        if (!(err <= tol) && !(err <= worst.err))
          worst = { name: `${p.name}[${i}] got ${got[i]} want ${ref[i]}`, err: Number.isNaN(err) ? Infinity : err };
      }
    }
    return { worst: worst.name, tableGrad: want.grads.get('rel_bias.weight') ?? want.grads.get('decoder.rel_bias.weight') };
  } finally {
    trainer.release();
  }
}

describe('GPU training step: T5 relative bias (shared table) and unscaled attention', () => {
  it('a decoder: every gradient matches the interpreter autodiff', async () => {
    const { worst, tableGrad } = await compareStep(SPEC, 8);
    expect(worst, `worst gradient mismatch: ${worst}`).toBe('');
    // The table's gradient is not trivially zero (both layers contributed).
    expect(Math.max(...tableGrad!.map(Math.abs))).toBeGreaterThan(1e-3);
  }, 180_000);

  // S > T: the encoder reads all S keys although the Step uniform's kv_len counts the decoder's T.
  it('an encoder–decoder (bidirectional encoder, cross-attention over S = 8 ≠ T = 6): every gradient matches', async () => {
    const { worst } = await compareStep(SEQ2SEQ, 6, 8);
    expect(worst, `worst gradient mismatch: ${worst}`).toBe('');
  }, 300_000);
});
