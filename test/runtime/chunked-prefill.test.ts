/**
 * Chunked prefill: a decoder whose whole-context prefill cannot be bound is compiled with a
 * prefill of R < context rows, and a prompt runs as passes at Step.offset 0, R, … (the last
 * one moved back to context − R when it would run past the cache). Tiny specs compiled with a
 * few-KiB binding limit must give the same last-row logits (≤ 1e-5), the same KV cache (decode
 * steps after it) and the same sampled text (same seed, on the device and on the host) as the
 * one-pass plan of the default limits, and match the CPU interpreter. An encoder cannot chunk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { initParams, interpretGraph } from '../../compiler/ir/interpret.js';
import { explainPlanFull } from '../../compiler/schedule/explain.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { DEFAULT_BINDING_LIMITS, type BindingLimits } from '../../runtime/gpu/limits.js';
import { ModelRuntime, type GenerateOptions } from '../../runtime/model-runtime.js';
import { promptPasses } from '../../runtime/prompt-passes.js';
import { maxAbsDiff } from '../helpers/gpu-train.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

/** vocab 64: every row's logits fit a binding; vocab 300: the head computes the last row only. */
const decoder = (name: string, vocab: number, context: number) => `model ${name} {
  vocab = ${vocab}
  context = ${context}
  d_model = 16
  layers = 2
  bias = false
  embedding { positions: rope, tied: false }
  block {
    norm: rmsnorm(eps: 1e-6)
    attention { heads: 2, kv_heads: 1 }
    mlp { activation: swiglu, hidden: 64 }
  }
  final_norm = rmsnorm(eps: 1e-6)
}
`;

const TINY: BindingLimits = { ...DEFAULT_BINDING_LIMITS, maxStorageBufferBindingSize: 8192 };

function compiled(text: string, limits: BindingLimits) {
  const r = compileGpu('chunked.model', {
    tuning: gpu.adapterClass,
    subgroupMinSize: gpu.subgroupMinSize,
    limits,
    host: { readFile: () => text, charVocab: () => 64 },
  });
  return r;
}

function ok(text: string, limits: BindingLimits) {
  const r = compiled(text, limits);
  expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return r.models[0]!;
}

async function drain(it: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const id of it) out.push(id);
  return out;
}

describe('promptPasses', () => {
  it('covers the prompt from offset 0 in steps of R, moving the last pass back inside the cache', () => {
    expect(promptPasses(5, 16, 64)).toEqual([{ offset: 0, kvLen: 16 }]);
    expect(promptPasses(40, 16, 64).map((p) => p.offset)).toEqual([0, 16, 32]);
    expect(promptPasses(40, 32, 48)).toEqual([
      { offset: 0, kvLen: 32 },
      { offset: 16, kvLen: 48 },
    ]);
    expect(promptPasses(64, 64, 64)).toEqual([{ offset: 0, kvLen: 64 }]);
  });
});

describe.each([
  ['all rows', 64, 64, [5, 40, 64]],
  ['last row only', 300, 48, [7, 40, 48]],
] as const)('chunked prefill (%s of logits)', (_label, vocab, context, lengths) => {
  it('matches the one-pass plan and the interpreter: last-row logits, the KV cache, sampled text', async () => {
    const text = decoder(`chunked_${vocab}`, vocab, context);
    const whole = ok(text, { ...DEFAULT_BINDING_LIMITS });
    const tiny = ok(text, TINY);
    expect(whole.data.plans.prefill.T).toBe(context);
    const R = tiny.data.plans.prefill.T;
    expect(R).toBeLessThan(context);
    expect(R & (R - 1)).toBe(0);
    // The lengths include one pass, several, and (context 48) a last pass moved back over rows already written.
    expect(promptPasses(40, R, context).length).toBeGreaterThan(1);
    expect(explainPlanFull(tiny.data.plans.prefill)).toContain(`chunked prefill: ${R} rows per pass`);
    expect(explainPlanFull(whole.data.plans.prefill)).not.toContain('chunked prefill');
    expect(tiny.data.plans.prefill.io.lastRow !== undefined).toBe(vocab === 300);
    // Scoring several rows needs the whole head: only the vocab-64 model keeps its verify plan.
    expect(tiny.data.plans.verify !== undefined).toBe(vocab === 64);

    const [a, b] = await Promise.all([ModelRuntime.create(whole.data, { gpu }), ModelRuntime.create(tiny.data, { gpu })]);
    try {
      a.init(7);
      b.init(7);
      const graph = tiny.model.graph!;
      const all = Array.from({ length: context }, (_, i) => (i * 37 + 11) % vocab);
      const values = interpretGraph(graph, {
        params: initParams(graph, 7),
        inputs: new Map([
          ['tokens', Int32Array.from(all)],
          ['positions', Int32Array.from({ length: context }, (_, i) => i)],
          ['targets', new Int32Array(context).fill(-1)],
        ]),
        B: 1,
        T: context,
      });
      const want = values.get(graph.outputs.find((v) => graph.values[v]!.name.endsWith('logits'))!)!.data;
      for (const n of lengths) {
        const prompt = all.slice(0, n);
        const [x, y] = [await a.prefillPrompt(prompt), await b.prefillPrompt(prompt)];
        expect(maxAbsDiff(y, x), `n = ${n}`).toBeLessThanOrEqual(1e-5);
        expect(maxAbsDiff(y, Array.from(want.subarray((n - 1) * vocab, n * vocab)))).toBeLessThan(1e-4);
        // The cache the passes wrote: decode steps after the prompt agree too.
        for (let p = n; p < Math.min(n + 3, context); p++) {
          const [s, t] = [await a.decodeStep(all[p]!, p), await b.decodeStep(all[p]!, p)];
          expect(maxAbsDiff(t, s), `decode at ${p} after ${n}`).toBeLessThanOrEqual(1e-5);
        }
      }
      if (vocab === 64) {
        // Every row, read pass by pass.
        const n = 40;
        expect(maxAbsDiff(await b.logits(all.slice(0, n)), await a.logits(all.slice(0, n)))).toBeLessThanOrEqual(1e-5);
      }
      const prompt = all.slice(0, 37);
      const opts: GenerateOptions = { maxTokens: 8, temperature: 0.9, topK: 20, seed: 3 };
      const ref = await drain(a.generate(prompt, opts));
      if (b.data.plans.verify) {
        // Speculative decoding whose target prefills in passes (its draft: the one-pass plan): greedy is the target's greedy.
        const greedy: GenerateOptions = { maxTokens: 6, temperature: 0 };
        expect(await drain(b.generate(prompt, { ...greedy, draft: a, lookahead: 3 }))).toEqual(await drain(a.generate(prompt, greedy)));
      }
      expect(await drain(b.generate(prompt, opts))).toEqual(ref);
      expect(await drain(b.generate(prompt, { ...opts, sampleOn: 'host' }))).toEqual(ref);
      // A window that slides re-runs the prefill over the kept half (more passes than one).
      const slide: GenerateOptions = { ...opts, maxTokens: context - 30, onContextFull: 'slide', chunk: 4 };
      const refSlide = await drain(a.generate(all.slice(0, 40), slide));
      expect(await drain(b.generate(all.slice(0, 40), slide))).toEqual(refSlide);
    } finally {
      a.release();
      b.release();
    }
  }, 300_000);
});

describe('MS4002', () => {
  it('an encoder (bidirectional attention) cannot run its prefill in chunks of rows', () => {
    const text = `model enc {
  arch = encoder
  vocab = 64
  context = 64
  d_model = 16
  layers = 1
  embedding { positions: learned }
  block {
    attention { heads: 2 }
    mlp { activation: gelu, hidden: 64 }
  }
  final_norm = layernorm(eps: 1e-5)
}
`;
    const r = compiled(text, TINY);
    const d = r.diagnostics.find((x) => x.code === 'MS4002');
    expect(d?.message).toMatch(
      /an encoder's prefill runs all 64 positions in one pass \(only a decoder's causal prefill can run in chunks of rows\)/,
    );
  });
});
