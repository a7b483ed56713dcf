/**
 * The sampling rule (issue 13) on a tiny vocabulary with known logits, on the GPU kernel
 * (codegen/wgsl/kernels/sample.ts) and the CPU reference (runtime/sample.ts) alike: each draw
 * of the kernel is the reference's draw for the same (seed, position), and over many draws
 * greedy is the argmax, top-k never leaves the k largest, top-p never leaves the nucleus, and
 * temperature t draws from softmax(logits / t) (a chi-square test). Padding ids past the real
 * vocabulary are never drawn.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from '../../compiler/codegen/wgsl/kernels/sample.js';
import { acquireDevice, readBuffer, type GpuContext } from '../../runtime/device.js';
import { bindKernel, compileKernel } from '../../runtime/gpu/kernel.js';
import { sampleAt, sampleDistribution, checkSampleOptions, SAMPLE_STREAMS, type SampleOptions } from '../../runtime/sample.js';
import { SAMPLE_UNIFORM, STEP_UNIFORM } from '../../runtime/uniforms.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

// 6 real ids (a tie between ids 1 and 4) and two padding columns holding the largest logits.
const LOGITS = Float32Array.of(0.3, 1.2, -0.5, 0.9, 1.2, -2, 50, 50);
const V = 6;
const DRAWS = 2000;
const SEED = 1234;

/** The kernel's draws at positions 1..DRAWS (decode variant: position = Step.offset + 1), all in one submission. */
async function gpuDraws(logits: Float32Array, classes: number, opts: SampleOptions): Promise<number[]> {
  const device = gpu.device;
  const k = generateSample({ vocab: classes, width: logits.length, rows: 1, history: DRAWS + 1, prefill: false, tuning: gpu.adapterClass });
  const pipeline = await compileKernel(device, k);
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buf = (size: number, usage = storage) => device.createBuffer({ size: Math.max(16, size), usage });
  const logitsBuf = buf(4 * logits.length);
  device.queue.writeBuffer(logitsBuf, 0, logits);
  const tokens = buf(4);
  const sampled = buf(4 * (DRAWS + 1));
  const step = buf(16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const sample = buf(SAMPLE_UNIFORM.bytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const uniform = {
    seed: SEED,
    stream: SAMPLE_STREAMS.sample,
    temperature: opts.temperature ?? 1,
    top_k: opts.topK ?? 0,
    top_p: opts.topP ?? 1,
    row: 0,
    pos: 0,
  };
  device.queue.writeBuffer(sample, 0, SAMPLE_UNIFORM.pack(uniform));
  const table = new Uint8Array(16 * DRAWS);
  for (let p = 0; p < DRAWS; p++)
    table.set(new Uint8Array(STEP_UNIFORM.pack({ offset: p, kv_len: p + 1, rng_seed: 0, rng_step: 0 })), 16 * p);
  const steps = buf(table.byteLength, GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
  device.queue.writeBuffer(steps, 0, table);
  const bind = bindKernel(device, pipeline, k, { logits: logitsBuf, tokens, sampled, step, sample });
  const encoder = device.createCommandEncoder();
  for (let p = 0; p < DRAWS; p++) {
    encoder.copyBufferToBuffer(steps, 16 * p, step, 0, 16);
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(1);
    pass.end();
  }
  device.queue.submit([encoder.finish()]);
  const ids = [...new Uint32Array(await readBuffer(device, sampled, 4 * DRAWS, { offset: 4 }))];
  for (const b of [logitsBuf, tokens, sampled, step, sample, steps]) b.destroy();
  return ids;
}

const cpuDraws = (logits: Float32Array, classes: number, opts: SampleOptions) =>
  Array.from({ length: DRAWS }, (_, i) => sampleAt(logits, opts, { seed: SEED, pos: i + 1 }, classes));

const counts = (ids: number[], n: number) => ids.reduce((c, id) => (c[id]!++, c), new Array<number>(n).fill(0));

/** Pearson's chi-square statistic of observed counts against expected probabilities (cells with p > 0). */
function chiSquare(observed: number[], probs: ArrayLike<number>): { stat: number; df: number } {
  const n = observed.reduce((a, b) => a + b, 0);
  let stat = 0;
  let df = -1;
  for (let i = 0; i < observed.length; i++) {
    if (!(probs[i]! > 0)) continue;
    stat += (observed[i]! - n * probs[i]!) ** 2 / (n * probs[i]!);
    df++;
  }
  return { stat, df };
}
/** Upper 0.1% critical values of chi-square for df 1..8. */
const CHI2_999 = [0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12];

const CASES: [string, SampleOptions][] = [
  ['greedy', { temperature: 0 }],
  ['temperature 1', { temperature: 1 }],
  ['temperature 0.5', { temperature: 0.5 }],
  ['temperature 3', { temperature: 3 }],
  ['top-k 2', { temperature: 1, topK: 2 }],
  ['top-k 3 (cut between tied ids 1 and 4 is by id)', { temperature: 2, topK: 3 }],
  ['top-k 1 (greedy)', { temperature: 1, topK: 1 }],
  ['top-p 0.5', { temperature: 1, topP: 0.5 }],
  ['top-p 0.8 with top-k 4', { temperature: 1.5, topK: 4, topP: 0.8 }],
];

describe.each(CASES)('sampling rule: %s', (_name, opts) => {
  const want = sampleDistribution(LOGITS, opts, V);
  let gpuIds: number[];
  let cpuIds: number[];
  beforeAll(async () => {
    gpuIds = await gpuDraws(LOGITS, V, opts);
    cpuIds = cpuDraws(LOGITS, V, opts);
  });

  it('the kernel draws what the CPU reference draws for each (seed, position)', () => {
    expect(gpuIds).toEqual(cpuIds);
  });

  it('never draws a padding id or an id outside the kept set; the draws follow the distribution (chi-square, p > 0.001)', () => {
    for (const ids of [gpuIds, cpuIds]) {
      for (const id of ids) {
        expect(id).toBeLessThan(V);
        expect(want[id]).toBeGreaterThan(0);
      }
      const { stat, df } = chiSquare(counts(ids, V), want);
      if (df > 0) expect(stat).toBeLessThan(CHI2_999[df]!);
    }
  });
});

describe('what the options keep', () => {
  it('greedy is the argmax, the lower id on a tie', () => {
    expect([...sampleDistribution(LOGITS, { temperature: 0 }, V)]).toEqual([0, 1, 0, 0, 0, 0]);
  });
  it('temperature t is softmax(logits / t) over the real ids', () => {
    for (const t of [0.5, 1, 3]) {
      const e = Array.from(LOGITS.subarray(0, V), (l) => Math.exp(l / t));
      const z = e.reduce((a, b) => a + b, 0);
      const got = sampleDistribution(LOGITS, { temperature: t }, V);
      e.forEach((x, i) => expect(got[i]).toBeCloseTo(x / z, 6));
    }
  });
  it('top-k keeps the k largest (ties by lower id); top-p the shortest prefix reaching p', () => {
    const kept = (o: SampleOptions) => [...sampleDistribution(LOGITS, o, V)].flatMap((p, i) => (p > 0 ? [i] : []));
    expect(kept({ topK: 2 })).toEqual([1, 4]);
    expect(kept({ topK: 3 })).toEqual([1, 3, 4]);
    expect(kept({ topK: 1 })).toEqual([1]);
    // Probabilities at t = 1: 1 and 4 ≈ 0.298 each, 3 ≈ 0.221, 0 ≈ 0.121: p = 0.5 needs 1 and 4; 0.7 needs 3 too.
    expect(kept({ topP: 0.5 })).toEqual([1, 4]);
    expect(kept({ topP: 0.7 })).toEqual([1, 3, 4]);
    expect(kept({ topP: 0.01 })).toEqual([1]);
  });
  it('refuses temperature < 0, top-p outside (0, 1], top-k < 0', () => {
    expect(() => checkSampleOptions({ temperature: -1 })).toThrow('temperature must be a number >= 0, got -1');
    expect(() => checkSampleOptions({ topP: 0 })).toThrow('topP must be in (0, 1], got 0');
    expect(() => checkSampleOptions({ topP: 1.5 })).toThrow('topP must be in (0, 1], got 1.5');
    expect(() => checkSampleOptions({ topK: -1 })).toThrow('topK must be an integer >= 0, got -1');
  });
});
