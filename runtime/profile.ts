/// <reference types="@webgpu/types" />
/**
 * Timing a plan's steps (`mspec profile`). Two encodings of the same plan run in alternation:
 *
 *  - profiled: every step on its own, a kernel in a compute pass of its own whose start and end
 *    write GPU timestamps, a copy or clear between an empty pass marking its start and one
 *    marking its end. A step's time is end − start; what lies between one step's end and the
 *    next one's start (pass set-up, barriers) is that next step's `gap`.
 *  - normal: the plan as PlanRunner.encode encodes it for sampling and training (runs of
 *    kernels share one pass), between two marker passes: the step time the user gets.
 *
 * Timing a step alone costs time of its own (a few tens of µs per step on lavapipe, more than
 * many small kernels take): each round measures it on a no-op kernel and a tiny copy
 * (profile-overhead.ts) and takes it off every step, keeping the raw times too.
 *
 * Without 'timestamp-query' each step is submitted alone and timed by the wall clock from
 * submit to queue-done, less the round trip of an empty submit (so a step's time still holds
 * what it does on the device, plus some host noise).
 *
 * Waits sleep for about the expected time first: a pending wait spins the JS thread, which
 * would take a core from a software adapter and slow down the very kernels being timed
 * (gpu/queue.ts).
 */
import { sleep, waitForQueue } from './gpu/queue.js';
import { Timestamps } from './gpu/timestamps.js';
import { OverheadProbe, type Overhead } from './profile-overhead.js';
import type { PlanRunner } from './plan-runner.js';

export type TimingMethod = 'timestamps' | 'wall-clock';

export interface StepTiming {
  /** Median time of the step itself (ms): its kernel's pass, or its copy/clear command, less the timing overhead. */
  readonly ms: number;
  /** The same as timed, before the overhead is taken off (ms). */
  readonly rawMs: number;
  /** Median time between the previous step's end and this step's start (ms); 0 with wall-clock timing. */
  readonly gapMs: number;
}

export interface PlanTimings {
  readonly method: TimingMethod;
  /** One per plan step, in plan order. */
  readonly steps: readonly StepTiming[];
  /** Σ of the step times of one profiled run, median over the runs (ms). */
  readonly stepsMs: number;
  /** The same before the timing overhead was taken off each step. */
  readonly rawStepsMs: number;
  /** What timing a step alone added to it, per kernel and per copy (profile-overhead.ts); with wall-clock timing the empty submit's round trip. */
  readonly overhead: Overhead;
  /** Σ of the gaps of one profiled run, median over the runs (ms). */
  readonly gapsMs: number;
  /** Median time of the whole profiled encoding (Σ steps + Σ gaps), ms. */
  readonly profiledMs: number;
  /**
   * Median time of one run of the plan encoded as the runtime encodes it, ms: device time
   * between the marker passes with timestamps; submit-to-done less the empty round trip without.
   */
  readonly stepMs: number;
  /**
   * stepMs − stepsMs of the same round (the two encodings run back to back), median over the
   * rounds: the step's time outside its kernels and copies. Negative when they took longer alone.
   */
  readonly outsideMs: number;
  /** stepsMs / stepMs of the same round, median over the rounds (1: the steps account for the whole step). */
  readonly ratio: number;
  /** Wall-clock time per run when `runs` runs are submitted back to back and awaited once, ms. */
  readonly wallMs: number;
  readonly runs: number;
}

export interface ProfileOptions {
  /** Untimed runs first: a software adapter compiles each pipeline at its first dispatch. */
  readonly warmup: number;
  /** Timed runs; every reported time is a median over them. */
  readonly runs: number;
  /** Where KV-cache writes go (PlanRunner.encode's offset; the Step uniform must agree). */
  readonly offset?: number;
  /** Called before each run is encoded (inputs, uniforms): queue writes land before the next submit. */
  readonly before?: () => void;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function profilePlan(runner: PlanRunner, opts: ProfileOptions): Promise<PlanTimings> {
  const device = runner.gpu.device;
  const offset = opts.offset ?? 0;
  // Warm-up in the normal encoding; the last one's wall time is the first estimate of a run.
  let estimateMs = 0;
  for (let i = 0; i < opts.warmup; i++) {
    const t0 = performance.now();
    opts.before?.();
    runner.run(offset);
    await waitForQueue(device, 0.8 * estimateMs);
    estimateMs = performance.now() - t0;
  }
  const timed = runner.gpu.features.has('timestamp-query')
    ? await byTimestamps(runner, opts, offset, estimateMs)
    : await byWallClock(runner, opts, offset);
  // Back to back, as sampling and training queue their steps: the host never leaves the queue idle.
  const t0 = performance.now();
  for (let r = 0; r < opts.runs; r++) {
    opts.before?.();
    runner.run(offset);
  }
  await waitForQueue(device, 0.8 * timed.stepMs * opts.runs);
  const wallMs = (performance.now() - t0) / opts.runs;
  return { ...timed, wallMs, runs: opts.runs };
}

type Timed = Omit<PlanTimings, 'wallMs' | 'runs'>;

async function byTimestamps(runner: PlanRunner, opts: ProfileOptions, offset: number, estimateMs: number): Promise<Timed> {
  const device = runner.gpu.device;
  const steps = runner.plan.steps;
  const n = steps.length;
  // Pairs 0 … n−1: the steps; pair n: the normal run's start (its start) and end (its end).
  const ts = new Timestamps(device, n + 1);
  const probe = new OverheadProbe(device);
  const raw: number[][] = Array.from({ length: n }, () => []);
  const net: number[][] = Array.from({ length: n }, () => []);
  const gapRuns: number[][] = Array.from({ length: n }, () => []);
  const rounds: { normal: number; raw: number; net: number; gaps: number; profiled: number; overhead: Overhead }[] = [];
  const normalRun = (label: string) => {
    opts.before?.();
    const encoder = device.createCommandEncoder({ label: `${label}: as run` });
    ts.mark(encoder, n, 'start');
    runner.encode(encoder, offset);
    ts.mark(encoder, n, 'end');
    return encoder.finish();
  };
  const profiledRun = (label: string) => {
    opts.before?.();
    const encoder = device.createCommandEncoder({ label: `${label}: step by step` });
    steps.forEach((s, i) => {
      if (s.kind === 'kernel') return runner.encodeKernelPass(encoder, i, ts.writes(i));
      ts.mark(encoder, i, 'start');
      runner.encode(encoder, offset, i, i + 1);
      ts.mark(encoder, i, 'end');
    });
    return encoder.finish();
  };
  try {
    // Round 0 is untimed: the probe's first dispatch compiles its pipeline.
    for (let r = 0; r <= opts.runs; r++) {
      const label = `profile ${runner.plan.mode} ${r}`;
      const calibrate = device.createCommandEncoder({ label: `${label}: overhead` });
      probe.encode(calibrate);
      device.queue.submit([calibrate.finish()]);
      // Both encodings each round, in turn first, so a machine whose speed drifts (or a first
      // run after an idle wait) affects both alike. Separate command buffers: the queue writes
      // of `before` land between them.
      const t0 = performance.now();
      for (const make of r % 2 ? [profiledRun, normalRun] : [normalRun, profiledRun]) device.queue.submit([make(label)]);
      const resolve = device.createCommandEncoder({ label: `${label}: timestamps` });
      ts.resolve(resolve);
      device.queue.submit([resolve.finish()]);
      await sleep(0.8 * estimateMs);
      const t = await ts.read();
      const overhead = await probe.read();
      estimateMs = performance.now() - t0;
      if (r === 0) continue;
      const round = { normal: t[2 * n + 1]! - t[2 * n]!, raw: 0, net: 0, gaps: 0, profiled: t[2 * n - 1]! - t[0]!, overhead };
      steps.forEach((s, i) => {
        const ms = t[2 * i + 1]! - t[2 * i]!;
        const taken = Math.max(0, ms - (s.kind === 'kernel' ? overhead.kernelMs : overhead.copyMs));
        const gap = i === 0 ? 0 : t[2 * i]! - t[2 * i - 1]!;
        raw[i]!.push(ms);
        net[i]!.push(taken);
        gapRuns[i]!.push(gap);
        round.raw += ms;
        round.net += taken;
        round.gaps += gap;
      });
      rounds.push(round);
    }
  } finally {
    ts.destroy();
    probe.destroy();
  }
  const med = (f: (x: (typeof rounds)[number]) => number) => median(rounds.map(f));
  return {
    method: 'timestamps',
    steps: net.map((xs, i) => ({ ms: median(xs), rawMs: median(raw[i]!), gapMs: median(gapRuns[i]!) })),
    stepsMs: med((x) => x.net),
    rawStepsMs: med((x) => x.raw),
    overhead: { kernelMs: med((x) => x.overhead.kernelMs), copyMs: med((x) => x.overhead.copyMs) },
    gapsMs: med((x) => x.gaps),
    profiledMs: med((x) => x.profiled),
    stepMs: med((x) => x.normal),
    outsideMs: med((x) => x.normal - x.net),
    ratio: med((x) => (x.normal > 0 ? x.net / x.normal : 0)),
  };
}

async function byWallClock(runner: PlanRunner, opts: ProfileOptions, offset: number): Promise<Timed> {
  const device = runner.gpu.device;
  const n = runner.plan.steps.length;
  const submitAndWait = async (encode: (e: GPUCommandEncoder) => void): Promise<number> => {
    const encoder = device.createCommandEncoder({ label: `profile ${runner.plan.mode}` });
    encode(encoder);
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    await waitForQueue(device);
    return performance.now() - t0;
  };
  const stepRuns: number[][] = Array.from({ length: n }, () => []);
  const trip: number[] = [];
  const normal: number[] = [];
  for (let r = 0; r < opts.runs; r++) {
    trip.push(await submitAndWait(() => {}));
    opts.before?.();
    normal.push(await submitAndWait((e) => runner.encode(e, offset)));
    opts.before?.();
    for (let i = 0; i < n; i++) stepRuns[i]!.push(await submitAndWait((e) => runner.encode(e, offset, i, i + 1)));
  }
  const roundTrip = median(trip);
  const steps = stepRuns.map((xs) => ({ ms: Math.max(0, median(xs) - roundTrip), rawMs: median(xs), gapMs: 0 }));
  const sums = normal.map((_, r) => stepRuns.reduce((a, xs) => a + Math.max(0, xs[r]! - roundTrip), 0));
  return {
    method: 'wall-clock',
    steps,
    stepsMs: median(sums),
    rawStepsMs: median(normal.map((_, r) => stepRuns.reduce((a, xs) => a + xs[r]!, 0))),
    overhead: { kernelMs: roundTrip, copyMs: roundTrip },
    gapsMs: 0,
    profiledMs: median(sums),
    stepMs: Math.max(0, median(normal) - roundTrip),
    outsideMs: median(normal.map((x, r) => x - roundTrip - sums[r]!)),
    ratio: median(normal.map((x, r) => (x > roundTrip ? sums[r]! / (x - roundTrip) : 0))),
  };
}
