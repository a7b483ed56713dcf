/**
 * The runtime side of `mspec profile` on the real adapter: the step-by-step encoding computes
 * what the normal one does, timestamps spread over several query sets come back in order, and
 * profilePlan times every step both with timestamp queries and with the wall clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { Timestamps } from '../../runtime/gpu/timestamps.js';
import { initialValues } from '../../runtime/init.js';
import { PlanRunner } from '../../runtime/plan-runner.js';
import type { KernelPlan } from '../../runtime/plan-types.js';
import { median, profilePlan } from '../../runtime/profile.js';
import { loadTorchFixture } from '../fixtures/torch/load.js';

let timed: GpuContext;
let plain: GpuContext;

beforeAll(async () => {
  timed = await acquireDevice({ timestamps: true });
  plain = await acquireDevice();
});
afterAll(() => {
  timed?.release();
  plain?.release();
});

/** torch_gpt's forward plan (B 2: no sampling step, so a pass has no side effect on its inputs) with seeded weights and tokens. */
async function forwardRunner(gpu: GpuContext): Promise<{ runner: PlanRunner; plan: KernelPlan }> {
  const fx = loadTorchFixture('torch_gpt');
  const { model, data } = compileGpu(fx.specPath, { tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize }).models[0]!;
  const plan = planModel(model.spec, model.graph!, {
    mode: 'forward',
    B: 2,
    T: model.spec.context,
    tuning: gpu.adapterClass,
    subgroupMinSize: gpu.subgroupMinSize,
  });
  const runner = new PlanRunner(gpu, plan, new Map());
  await runner.compile();
  for (const p of data.params) runner.write(p.name, initialValues(p, 3));
  runner.write(
    plan.io.tokens,
    Int32Array.from({ length: plan.B * plan.T }, (_, i) => (7 * i + 1) % model.spec.vocab),
  );
  if (plan.io.targets)
    runner.write(
      plan.io.targets,
      Int32Array.from({ length: plan.B * plan.T }, (_, i) => (3 * i) % model.spec.vocab),
    );
  runner.setStep(0, plan.T);
  return { runner, plan };
}

describe('profiling a plan', () => {
  it('the step-by-step encoding (a pass per kernel) computes the same logits, bit for bit', async () => {
    const { runner, plan } = await forwardRunner(timed);
    runner.run();
    const normal = await runner.readF32(plan.io.logits);
    const encoder = timed.device.createCommandEncoder();
    plan.steps.forEach((s, i) => (s.kind === 'kernel' ? runner.encodeKernelPass(encoder, i) : runner.encode(encoder, 0, i, i + 1)));
    timed.device.queue.submit([encoder.finish()]);
    const stepwise = await runner.readF32(plan.io.logits);
    expect(stepwise.length).toBe(normal.length);
    expect(Buffer.from(stepwise.buffer).equals(Buffer.from(normal.buffer))).toBe(true);
    expect(() =>
      runner.encodeKernelPass(
        encoder,
        plan.steps.findIndex((s) => s.kind !== 'kernel'),
      ),
    ).toThrow(/is not a kernel/);
  });

  it('timestamps spread over several query sets (more than 4096 queries) come back in the order they were written', async () => {
    expect(timed.features.has('timestamp-query')).toBe(true);
    const ts = new Timestamps(timed.device, 3000);
    const written = [0, 1000, 2047, 2048, 2999];
    const encoder = timed.device.createCommandEncoder();
    for (const p of written) {
      ts.mark(encoder, p, 'start');
      ts.mark(encoder, p, 'end');
    }
    ts.resolve(encoder);
    timed.device.queue.submit([encoder.finish()]);
    const t = await ts.read();
    ts.destroy();
    expect(t.length).toBe(6000);
    const order = written.flatMap((p) => [t[2 * p]!, t[2 * p + 1]!]);
    for (let i = 1; i < order.length; i++) expect(order[i]!).toBeGreaterThanOrEqual(order[i - 1]!);
    expect(order.at(-1)!).toBeGreaterThan(0);
  });

  it.each([
    ['timestamps', () => timed],
    ['wall-clock', () => plain],
  ] as const)(
    'times every step of the plan (%s)',
    async (method, gpu) => {
      const { runner, plan } = await forwardRunner(gpu());
      let calls = 0;
      const t = await profilePlan(runner, { warmup: 1, runs: 3, before: () => void calls++ });
      expect(t.method).toBe(method);
      expect(t.runs).toBe(3);
      expect(calls).toBeGreaterThanOrEqual(1 + 3);
      expect(t.steps.length).toBe(plan.steps.length);
      for (const s of t.steps) {
        expect(s.ms).toBeGreaterThanOrEqual(0);
        expect(s.rawMs).toBeGreaterThanOrEqual(s.ms);
        expect(s.gapMs).toBeGreaterThanOrEqual(method === 'wall-clock' ? 0 : -1e-9);
      }
      // Every kernel does work: as timed (before the overhead is taken off) none takes no time.
      if (method === 'timestamps') for (const s of t.steps) expect(s.rawMs).toBeGreaterThan(0);
      expect(t.stepMs).toBeGreaterThan(0);
      expect(t.wallMs).toBeGreaterThan(0);
      expect(t.rawStepsMs).toBeGreaterThanOrEqual(t.stepsMs);
      expect(t.overhead.kernelMs).toBeGreaterThanOrEqual(0);
      expect(t.overhead.copyMs).toBeGreaterThanOrEqual(0);
    },
    120_000,
  );

  it('median', () => {
    expect(median([])).toBe(0);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
