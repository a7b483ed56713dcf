/**
 * Dropout in a whole training step on the real adapter. Two tiny decoders with all three
 * dropouts on (embeddings, residual branches, attention weights): a GPT-2-like pre-norm model
 * and a NeoX-like parallel block with RoPE (each branch dropped apart). For both kernel tunings
 * (the NeoX-like model: 'cpu' only):
 *  - one step (lr = 0, so the gradient buffers hold ∂loss/∂θ) gives the loss and every
 *    gradient the CPU interpreter + autodiff give with the same randomness (seed, micro-batch
 *    counter) — and not those without it, so the masks really are applied;
 *  - eval (the forward plan) emits no dropout kernel and gives bit-identical logits with and
 *    without the dropout knobs;
 *  - two identical 3-step runs end bit-identical, and a run stopped after step 2 and resumed
 *    from its state (weights + AdamW moments) in a fresh trainer ends bit-identical too,
 *    with 2 micro-batches per step (the counter is (t − 1)·2 + j).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile, type CompiledModel } from '../../compiler/index.js';
import { initParams, initRules, interpretGraph } from '../../compiler/ir/interpret.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { PlanRunner } from '../../runtime/plan-runner.js';
import { Trainer } from '../../runtime/train/trainer.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-dropout-'));
let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => {
  gpu?.release();
  rmSync(tmp, { recursive: true, force: true });
});

const GPT = (drop: boolean) => `model drop_gpt {
  vocab = 29
  context = 16
  d_model = 32
  layers = 2
  bias = true
  ${drop ? 'dropout = 0.2' : ''}
  embedding { positions: learned, tied: true${drop ? ', dropout: 0.3' : ''} }
  block {
    norm: layernorm(eps: 1e-5)
    attention { heads: 4, causal${drop ? ', dropout: 0.25' : ''} }
    mlp { activation: gelu_tanh, hidden: 64 }
  }
  final_norm = layernorm(eps: 1e-5)
}`;

const NEOX = (drop: boolean) => `model drop_neox {
  vocab = 29
  context = 16
  d_model = 32
  layers = 2
  ${drop ? 'dropout = 0.15' : ''}
  embedding { positions: rope(base: 10_000, fraction: 0.5), tied: false }
  block {
    norm: rmsnorm(eps: 1e-5)
    parallel: true
    attention { heads: 2, causal${drop ? ', dropout: 0.4' : ''} }
    mlp { activation: swiglu, hidden: 48 }
  }
  final_norm = rmsnorm(eps: 1e-5)
}`;

function compile(text: string): CompiledModel {
  const name = /model (\w+)/.exec(text)![1]!;
  const path = join(tmp, `${name}-${text.length}.model`);
  writeFileSync(path, text);
  const m = compileFile(path).models[0]!;
  if (!m.ok) throw new Error(`test bug: ${name} does not compile`);
  return m;
}

const B = 2;
const T = 16;
const SEED = 31337;
const OPT = { lr: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 };

function batch(vocab: number, salt: number): { tokens: Int32Array; targets: Int32Array } {
  const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + salt * 13 + ((i * i) % 5)) % vocab);
  const targets = Int32Array.from({ length: B * T }, (_, i) => (i % T === T - 1 ? -100 : tokens[i + 1]!));
  return { tokens, targets };
}

function trainerParams(m: CompiledModel) {
  const graph = m.graph!;
  const rules = initRules(graph);
  return graph.params.map((p) => ({ name: p.name, shape: p.shape, decay: p.decay, init: rules.get(p.name)! }));
}

async function makeTrainer(m: CompiledModel, tuning: 'cpu' | 'gpu', accumulation = 1, Bm = B): Promise<Trainer> {
  const opts = { B: Bm, T, tuning, subgroupMinSize: gpu.subgroupMinSize };
  const t = await Trainer.create(
    gpu,
    trainerParams(m),
    {
      train: planTraining(m.spec, m.graph!, { ...opts, clip: 1, accumulation }),
      eval: planModel(m.spec, m.graph!, { mode: 'forward', ...opts }),
    },
    SEED,
  );
  t.init(5);
  return t;
}

const readGrad = (t: Trainer, p: { grad: string; offset: number; numel: number }) =>
  (t as unknown as { train: PlanRunner }).train.readF32(p.grad, p.offset, p.numel);

// Both tunings on the GPT-2-like model; the NeoX-like one (its structure is what it adds) on the 'cpu' tuning only, to keep the file's time down.
const models = [
  ['GPT-2-like', GPT, ['cpu', 'gpu']],
  ['NeoX-like parallel', NEOX, ['cpu']],
] as const;

describe.each(models)('%s with every dropout on', (_name, spec, tunings) => {
  const m = compile(spec(true));
  const graph = m.graph!;

  it('lowering puts a dropout after the embeddings (when asked) and on every residual branch; attention carries its own', () => {
    const drops = graph.nodes.filter((n) => n.op === 'dropout');
    const sites = drops.map((n) => n.scope);
    const emb = m.spec.embedding.dropout > 0 ? ['embed'] : [];
    expect(sites).toEqual([...emb, 'layers.0.attn', 'layers.0.mlp', 'layers.1.attn', 'layers.1.mlp']);
    const streams = new Set([
      ...drops.map((n) => (n.op === 'dropout' ? n.attrs.stream : -1)),
      ...graph.nodes.map((n) => (n.op === 'attention' ? n.attrs.stream : -1)),
    ]);
    expect(streams.size).toBe(drops.length + 2 + (streams.has(-1) ? 1 : 0));
    for (const n of graph.nodes) if (n.op === 'attention') expect(n.attrs.dropout).toBeGreaterThan(0);
  });

  it.each(tunings)(
    'tuning %s: one step gives the interpreter’s loss and gradients with the same masks',
    async (tuning) => {
      const trainer = await makeTrainer(m, tuning);
      try {
        const params = initParams(graph, 5);
        trainer.setState(params);
        const { tokens, targets } = batch(m.spec.vocab, 1);
        const step = 3; // micro-batch counter (3 − 1)·1 + 0 = 2
        const res = await trainer.submitStep(step, tokens, targets, 0, OPT);
        expect(res.nonfinite).toBe(false);
        const inputs = new Map<string, Int32Array>([
          ['tokens', tokens],
          ['targets', targets],
          ...(graph.inputs.some((v) => graph.values[v]!.name === 'positions')
            ? [['positions', Int32Array.from({ length: T }, (_, i) => i)] as [string, Int32Array]]
            : []),
        ]);
        const ref = gradients(graph, { params, inputs, B, T, rng: Trainer.rng(SEED, step, 1, 0) });
        const plain = gradients(graph, { params, inputs, B, T });
        expect(Math.abs(res.loss - ref.loss)).toBeLessThan(2e-5);
        // The masks matter: without them the loss is clearly another.
        expect(Math.abs(plain.loss - ref.loss)).toBeGreaterThan(1e-3);
        let worst = { name: '', err: 0 };
        let moved = 0;
        let used = 0; // the largest fraction of its tolerance any gradient element uses
        for (const p of trainer.plans.train.train!.params) {
          const want = ref.grads.get(p.name)!;
          const other = plain.grads.get(p.name)!;
          const got = await readGrad(trainer, p);
          const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
          for (let i = 0; i < want.length; i++) {
            const err = Math.abs(got[i]! - want[i]!);
            const tol = 1e-6 + 1e-3 * scale;
            used = Math.max(used, err / tol);
            if (!(err <= tol) && !(err <= worst.err))
              worst = { name: `${p.name}[${i}] got ${got[i]} want ${want[i]}`, err: Number.isNaN(err) ? Infinity : err };
            moved = Math.max(moved, Math.abs(want[i]! - other[i]!) / (scale || 1));
          }
        }
        expect(worst.name, `worst gradient mismatch: ${worst.name}`).toBe('');
        expect(moved).toBeGreaterThan(0.05);
        console.log(
          `${_name} (${tuning}): loss GPU ${res.loss} vs interpreter ${ref.loss} (no dropout: ${plain.loss}); worst gradient error ${used.toExponential(2)} of its tolerance`,
        );
      } finally {
        trainer.release();
      }
    },
    240_000,
  );

  it('eval logits do not depend on the dropout knobs (no dropout kernel in the forward plan)', async () => {
    const plain = compile(spec(false));
    expect(plain.graph!.params.map((p) => p.name)).toEqual(graph.params.map((p) => p.name));
    const params = initParams(graph, 9);
    const { tokens } = batch(m.spec.vocab, 2);
    const logits = async (c: CompiledModel) => {
      const plan = planModel(c.spec, c.graph!, { mode: 'forward', B, T, tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize });
      expect(plan.kernels.some((k) => k.fuses.includes('dropout') || k.code.includes('dropout_bits'))).toBe(false);
      const shared = new Map<string, GPUBuffer>();
      const runner = new PlanRunner(gpu, plan, shared);
      await runner.compile();
      try {
        for (const [name, v] of params) runner.write(name, v);
        runner.write(plan.io.tokens, tokens);
        runner.write(plan.io.targets!, new Int32Array(B * T).fill(-100));
        runner.setStep(0, T);
        runner.run(0);
        return await runner.readF32(plan.io.logits);
      } finally {
        for (const b of shared.values()) b.destroy();
      }
    };
    const [a, b] = [await logits(m), await logits(plain)];
    expect(a.length).toBe(B * T * m.spec.vocab);
    expect(Array.from(a)).toEqual(Array.from(b));
    // The interpreter without training randomness agrees: dropout is the identity in eval.
    const inputs = new Map<string, Int32Array>([
      ['tokens', tokens],
      ['targets', new Int32Array(B * T).fill(-100)],
      ...(graph.inputs.some((v) => graph.values[v]!.name === 'positions')
        ? [['positions', Int32Array.from({ length: T }, (_, i) => i)] as [string, Int32Array]]
        : []),
    ]);
    const logitsId = (c: CompiledModel) => c.graph!.outputs.find((v) => c.graph!.values[v]!.type.shape.length === 3)!;
    const ia = interpretGraph(graph, { params, inputs, B, T }).get(logitsId(m))!.data;
    const ib = interpretGraph(plain.graph!, { params, inputs, B, T }).get(logitsId(plain))!.data;
    expect(Array.from(ia)).toEqual(Array.from(ib));
  }, 240_000);
});

describe('reproducible training with dropout', () => {
  it('two identical runs are bit-identical, and a resumed run equals the uninterrupted one (2 micro-batches per step)', async () => {
    const m = compile(GPT(true));
    const o = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const micro = (t: number) =>
      [0, 1].map((j) => {
        const { tokens, targets } = batch(m.spec.vocab, 10 * t + j);
        return { inputs: tokens.slice(0, T), targets: targets.slice(0, T) };
      });
    const run = async (steps: number[], from?: Map<string, Float32Array>, data = micro) => {
      const t = await makeTrainer(m, gpu.adapterClass, 2, 1);
      try {
        if (from) t.setState(from);
        const losses: number[] = [];
        for (const s of steps) losses.push((await t.submitAccumulated(s, data(s), o.lr, o)).loss);
        return { losses, state: await t.state(true) };
      } finally {
        t.release();
      }
    };
    const a = await run([1, 2, 3]);
    const b = await run([1, 2, 3]);
    expect(b.losses).toEqual(a.losses);
    const first = await run([1, 2]);
    const resumed = await run([3], first.state);
    expect([...first.losses, ...resumed.losses]).toEqual(a.losses);
    for (const [name, v] of a.state) {
      expect(Array.from(b.state.get(name)!), name).toEqual(Array.from(v));
      expect(Array.from(resumed.state.get(name)!), name).toEqual(Array.from(v));
    }
    // The masks follow the step: the same weights and batch at another step give another loss.
    const same = () => micro(1);
    const [at1, at2] = [await run([1], undefined, same), await run([2], undefined, same)];
    expect(at1.losses[0]).toBe(a.losses[0]);
    expect(Math.abs(at2.losses[0]! - at1.losses[0]!)).toBeGreaterThan(1e-4);
  }, 240_000);
});
