/**
 * The whole GPU path on the real adapter (lavapipe in CI): a spec compiled to kernels and
 * plans, weights from a PyTorch-written safetensors file, logits compared with PyTorch's;
 * the KV-cached decode path against the one-pass prefill; the generated model against the
 * CPU interpreter at a seeded init; deterministic sampling; checkpoint round trips.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { initParams, interpretGraph } from '../../compiler/ir/interpret.js';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { CheckpointError, ModelError, ModelRuntime, PlanTargetError, type CompiledModelData } from '../../runtime/model-runtime.js';
import { loadTorchFixture, TORCH_FIXTURES } from '../fixtures/torch/load.js';

let gpu: GpuContext;
const tmp = mkdtempSync(join(tmpdir(), 'mspec-gpu-'));

beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => {
  gpu?.release();
  rmSync(tmp, { recursive: true, force: true });
});

function compiled(specPath: string) {
  const r = compileGpu(specPath, { tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.models[0]!;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.each(TORCH_FIXTURES)('%s on the GPU', (name) => {
  const fx = loadTorchFixture(name);
  let rt: ModelRuntime;
  beforeAll(async () => {
    rt = await ModelRuntime.create(compiled(fx.specPath).data, { gpu });
    rt.setWeights(readSafetensors(fx.safetensorsPath), name);
  });
  afterAll(() => rt?.release());

  it('logits agree with PyTorch for the same weights (max |Δ| ≤ 2e-4)', async () => {
    const V = fx.vocab;
    for (let b = 0; b < fx.B; b++) {
      const row = Array.from(fx.tokens.subarray(b * fx.T, (b + 1) * fx.T));
      const got = await rt.logits(row);
      const want = fx.logits.subarray(b * fx.T * V, (b + 1) * fx.T * V);
      expect(maxAbsDiff(got, want)).toBeLessThan(2e-4);
    }
  });

  it('the KV-cached decode path gives the prefill logits, position by position', async () => {
    const row = Array.from(fx.tokens.subarray(0, fx.T));
    const full = await rt.logits(row);
    const V = fx.vocab;
    await rt.prefillPrompt(row.slice(0, 3));
    for (let p = 3; p < row.length; p++) {
      const step = await rt.decodeStep(row[p]!, p);
      expect(maxAbsDiff(step, full.subarray(p * V, (p + 1) * V))).toBeLessThan(1e-4);
    }
  });

  it('a saved checkpoint loads back to the same logits and carries the spec', async () => {
    const path = join(tmp, `${name}.safetensors`);
    await rt.save(path);
    const file = readSafetensors(path);
    expect(file.metadata['mspec.model']).toBe(name);
    expect(JSON.parse(file.metadata['mspec.spec']!).entry).toBe(fx.specPath);
    const again = await ModelRuntime.create(compiled(fx.specPath).data, { gpu });
    try {
      again.load(path);
      const row = Array.from(fx.tokens.subarray(0, fx.T));
      expect(maxAbsDiff(await again.logits(row), await rt.logits(row))).toBe(0);
    } finally {
      again.release();
    }
  });
});

describe('seeded models on the GPU', () => {
  it.each([
    'specs/tiny-llama.model',
    'specs/char-gpt.model',
    ...['alibi-parallel', 'postnorm-window', 'geglu-rmsnorm'].map((v) => `test/runtime/variants/${v}.model`),
  ])('%s: logits at init match the CPU interpreter', async (spec) => {
    const { model, data } = compiled(spec);
    const rt = await ModelRuntime.create(data, { gpu });
    try {
      rt.init(7);
      const T = 12;
      const tokens = Array.from({ length: T }, (_, i) => (i * 37 + 5) % data.vocab);
      const got = await rt.logits(tokens);
      const values = interpretGraph(model.graph!, {
        params: initParams(model.graph!, 7),
        inputs: new Map<string, Int32Array>(
          (
            [
              ['tokens', Int32Array.from(tokens)],
              ['positions', Int32Array.from({ length: T }, (_, i) => i)],
              ['targets', new Int32Array(T).fill(-1)],
            ] as [string, Int32Array][]
          ).filter(([n]) => model.graph!.inputs.some((v) => model.graph!.values[v]!.name === n)),
        ),
        B: 1,
        T,
      });
      const logitsId = model.graph!.outputs.find((v) => model.graph!.values[v]!.name.endsWith('logits'))!;
      expect(maxAbsDiff(got, values.get(logitsId)!.data)).toBeLessThan(1e-4);
    } finally {
      rt.release();
    }
  });

  it('sampling is deterministic for a seed and honours the context limit', async () => {
    const rt = await ModelRuntime.create(compiled('specs/tiny-llama.model').data, { gpu });
    try {
      rt.init(1);
      const take = async (seed: number, n: number) => {
        const out: number[] = [];
        for await (const t of rt.generate([67, 97, 108, 108], { maxTokens: n, seed, temperature: 0.8, topK: 40, topP: 0.95 })) out.push(t);
        return out;
      };
      const a = await take(1, 20);
      expect(a).toHaveLength(20);
      expect(await take(1, 20)).toEqual(a);
      expect(await take(2, 20)).not.toEqual(a);
      await expect(take(1, 200)).rejects.toThrow(ModelError);
      await expect(take(1, 200)).rejects.toThrow(/context window of 128 tokens/);
    } finally {
      rt.release();
    }
  });

  it('a checkpoint of another model is refused with the exact mismatches', async () => {
    const rt = await ModelRuntime.create(compiled('specs/tiny-llama.model').data, { gpu });
    try {
      expect(() => rt.load(loadTorchFixture('torch_llama').safetensorsPath)).toThrow(CheckpointError);
      expect(() => rt.load(loadTorchFixture('torch_llama').safetensorsPath)).toThrow(
        /tensor 'embed.tokens.weight' has shape \[53, 32\], the spec needs \[256, 128\]/,
      );
    } finally {
      rt.release();
    }
  });
});

/**
 * A plan carries what its kernels assume of the adapter (plan.json `target`). Kernels made
 * for subgroups of SG lanes treat a workgroup of SG invocations as one subgroup; where the
 * device's subgroups are narrower (SwiftShader: 4, lavapipe: 8) they compute wrong numbers
 * without any error, so such a device must be refused before anything runs.
 */
describe('a plan built for another adapter', () => {
  const SPEC = 'test/fixtures/torch/torch_llama.model'; // tiny: context 16, so prefill takes the subgroup attention at 8 and 16 lanes
  const TOKENS = [7, 21, 3, 52, 0, 17, 33, 9, 41, 12, 5, 28, 30, 2];
  const build = (subgroupMinSize: number, tuning: 'cpu' | 'gpu' = 'cpu') => {
    const r = compileGpu(SPEC, { tuning, subgroupMinSize, adapter: 'the adapter it was built on' });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    return r.models[0]!.data;
  };
  const logitsOf = async (data: CompiledModelData) => {
    const rt = await ModelRuntime.create(data, { gpu });
    try {
      rt.init(5);
      return await rt.logits(TOKENS);
    } finally {
      rt.release();
    }
  };
  const untargeted = (d: CompiledModelData): CompiledModelData => {
    const { target: _t, ...rest } = d;
    const strip = <P extends { target?: unknown }>(p: P) => ({ ...p, target: undefined });
    return { ...rest, plans: { prefill: strip(d.plans.prefill), decode: strip(d.plans.decode) } };
  };

  it('records the tuning, the features and the subgroup size its kernels assume', () => {
    expect(build(8).target).toEqual({ tuning: 'cpu', adapter: 'the adapter it was built on', features: ['subgroups'], subgroupMinSize: 8 });
    expect(build(8).plans.decode.target).toEqual(build(8).target);
    expect(build(0).target).toEqual({ tuning: 'cpu', adapter: 'the adapter it was built on', features: [], subgroupMinSize: 0 });
    expect(build(0, 'gpu').target).toMatchObject({ tuning: 'gpu', features: [], subgroupMinSize: 0 });
  });

  it('a device whose subgroups may be narrower (SwiftShader-like, 4 lanes) is refused with what to do', async () => {
    // This very device, reporting what SwiftShader reports.
    const narrow = Object.create(gpu, {
      adapter: { value: { ...gpu.adapter, summary: 'Google / swiftshader / SwiftShader [cpu]', subgroupMinSize: 4, subgroupMaxSize: 4 } },
      features: { value: new Set([...gpu.features, 'subgroups']) },
    }) as GpuContext;
    const data = build(8);
    const message =
      "model 'torch_llama' was built with the 'cpu' tuning for the adapter it was built on; its kernels assume subgroups of at least 8 lanes, " +
      "but this device's (Google / swiftshader / SwiftShader [cpu]) may be as narrow as 4 lanes (subgroup sizes 4-4): they would compute wrong numbers. Rebuild it for this adapter";
    await expect(ModelRuntime.create(data, { gpu: narrow })).rejects.toThrow(PlanTargetError);
    await expect(ModelRuntime.create(data, { gpu: narrow })).rejects.toThrow(message);
    await expect(ModelRuntime.create(data, { gpu: narrow })).rejects.toThrow('`mspec build SPEC -o DIR --tuning gpu`');
    // A device without the feature at all.
    const none = Object.create(gpu, { features: { value: new Set([...gpu.features].filter((f) => f !== 'subgroups')) } }) as GpuContext;
    await expect(ModelRuntime.create(data, { gpu: none })).rejects.toThrow(
      "its kernels need the WebGPU feature 'subgroups', which this device",
    );
    // The portable builds need nothing of it.
    for (const d of [build(0), build(0, 'gpu')]) (await ModelRuntime.create(d, { gpu: narrow })).release();
  });

  it("on this adapter: its own subgroup size gives the gpu tuning's logits; twice it is refused, and run anyway it is wrong", async () => {
    const sg = gpu.subgroupMinSize;
    if (sg === 0) return; // no subgroups here: the cpu tuning then uses none (covered above)
    const want = await logitsOf(build(0, 'gpu'));
    expect(maxAbsDiff(await logitsOf(build(sg)), want)).toBeLessThan(1e-4);
    const wide = build(2 * sg);
    await expect(ModelRuntime.create(wide, { gpu })).rejects.toThrow(`its kernels assume subgroups of at least ${2 * sg} lanes`);
    // What the check prevents: the same kernels without their record run and silently disagree.
    expect(maxAbsDiff(await logitsOf(untargeted(wide)), want)).toBeGreaterThan(1e-2);
  });
});
