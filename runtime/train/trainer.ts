/// <reference types="@webgpu/types" />
/**
 * Runs training steps of a compiled model on a device: one command buffer per step (forward,
 * backward, clipping, AdamW), the loss and gradient norm copied into a small read-back buffer
 * and read while the next step runs, so the host never stalls the queue. The validation loss
 * comes from a forward-only plan that shares the weights.
 *
 * Dropout's masks are keyed by the run's seed and the micro-batch counter
 * (t − 1)·accumulation + j (runtime/counter-rng.ts), written into the Step uniform before each
 * micro-batch: a pure function of the step, so a resumed run redraws exactly the masks the
 * uninterrupted one would have.
 */
import type { GpuContext } from '../device.js';
import { unlessLost } from '../gpu/queue.js';
import { PlanRunner, type BufferMap } from '../plan-runner.js';
import type { KernelPlan, ParamInfo } from '../plan-types.js';
import { initialValues } from '../init.js';
import { OPTIM_UNIFORM } from '../uniforms.js';

export interface OptimSettings {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

export interface StepResult {
  readonly step: number;
  /** Mean cross-entropy over the micro-batches (what the progress line shows). */
  readonly loss: number;
  readonly gradNorm: number;
  readonly nonfinite: boolean;
  /** MoE with a load-balancing loss: its mean over the micro-batches (added to `loss` for the gradient). */
  readonly aux?: number;
}

export interface EvalResult {
  /** Mean validation cross-entropy. */
  readonly loss: number;
  /**
   * MoE models: per MoE layer (in layer order), the fraction of routed slots each expert
   * received over the validation batches (sums to 1 per layer; 1/experts is even routing).
   */
  readonly expertLoad?: number[][];
  /**
   * The fraction of scored positions (target ≥ 0) whose highest logit is the target (a tie
   * counts), computed on the GPU (plan io.correct); absent when the plan has no such output.
   */
  readonly accuracy?: number;
}

/** One micro-batch: decoder (or only) inputs and targets; an encoder–decoder's padded sources too. */
export interface TrainBatch {
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
  /** Encoder–decoders: B·S source ids (runtime/data/pairs.ts). */
  readonly sources?: Int32Array;
}

function needSources(b: TrainBatch): Int32Array {
  if (!b.sources) throw new Error('internal: an encoder–decoder batch without sources');
  return b.sources;
}

export interface TrainPlans {
  readonly train: KernelPlan;
  readonly eval: KernelPlan;
}

export class Trainer {
  readonly shared: BufferMap = new Map();
  private train!: PlanRunner;
  private evaluator!: PlanRunner;

  private constructor(
    readonly gpu: GpuContext,
    readonly params: readonly ParamInfo[],
    readonly plans: TrainPlans,
    /** The run's seed (TrainSpec.seed): with the micro-batch counter it keys dropout's masks. */
    readonly seed: number,
  ) {}

  static async create(gpu: GpuContext, params: readonly ParamInfo[], plans: TrainPlans, seed = 0): Promise<Trainer> {
    const t = new Trainer(gpu, params, plans, seed);
    t.train = new PlanRunner(gpu, plans.train, t.shared);
    t.evaluator = new PlanRunner(gpu, plans.eval, t.shared);
    await Promise.all([t.train.compile(), t.evaluator.compile()]);
    return t;
  }

  /** Same rule as ModelRuntime.init and the CPU interpreter's initParams; optimizer moments start at zero. */
  init(seed: number): void {
    for (const p of this.params) this.train.write(p.name, initialValues(p, seed));
    const io = this.plans.train.train!;
    // Moments may share arena buffers (TrainIo.params): zero each buffer once, whole.
    for (const name of new Set(io.params.flatMap((p) => [p.m, p.v]))) {
      const b = this.shared.get(name)!;
      this.gpu.device.queue.writeBuffer(b, 0, new Float32Array(b.size / 4));
    }
  }

  /**
   * Every tensor of the training state: weights, and with `optimizer` the AdamW moments
   * (`m:`/`v:` names, whether the plan keeps them in arenas or buffers of their own).
   */
  async state(optimizer: boolean): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const whole = new Map<string, Float32Array>();
    // An arena is read back once; each moment is a copy of its range.
    const read = async (buffer: string, offset: number, numel: number) => {
      let all = whole.get(buffer);
      if (!all) whole.set(buffer, (all = await this.train.readF32(buffer)));
      return all.slice(offset / 4, offset / 4 + numel);
    };
    for (const p of this.plans.train.train!.params) {
      out.set(p.name, await this.train.readF32(p.name));
      if (optimizer) {
        out.set(`m:${p.name}`, await read(p.m, p.offset, p.numel));
        out.set(`v:${p.name}`, await read(p.v, p.offset, p.numel));
      }
    }
    return out;
  }

  /** Writes tensors of the training state, named as state() names them. */
  setState(tensors: ReadonlyMap<string, Float32Array>): void {
    const moments = new Map<string, { buffer: string; offset: number }>();
    for (const p of this.plans.train.train!.params) {
      moments.set(`m:${p.name}`, { buffer: p.m, offset: p.offset });
      moments.set(`v:${p.name}`, { buffer: p.v, offset: p.offset });
    }
    for (const [name, values] of tensors) {
      const at = moments.get(name) ?? { buffer: name, offset: 0 };
      const b = this.shared.get(at.buffer);
      if (!b) throw new Error(`internal: no buffer ${name}`);
      this.gpu.device.queue.writeBuffer(b, at.offset, values.buffer, values.byteOffset, values.byteLength);
    }
  }

  /**
   * Queues one optimizer step (1-based `t` for the bias corrections) on a batch. The result
   * resolves once the GPU has run it; the caller may queue the next step first.
   */
  submitStep(t: number, inputs: Int32Array, targets: Int32Array, lr: number, o: OptimSettings): Promise<StepResult> {
    return this.submitAccumulated(t, [{ inputs, targets }], lr, o);
  }

  /**
   * One optimizer step over `batches.length` micro-batches (the plan's accumulation). Each
   * micro-batch is its own submit (its tokens are written between them); the update and the
   * read-back copies go with the last one. The reported loss is the mean over micro-batches.
   */
  submitAccumulated(t: number, batches: readonly TrainBatch[], lr: number, o: OptimSettings): Promise<StepResult> {
    const plan = this.plans.train;
    const io = plan.train!;
    const k = io.accumulation;
    if (batches.length !== k) throw new Error(`internal: the training plan accumulates ${k} micro-batches, got ${batches.length}`);
    const bc1 = 1 / (1 - o.beta1 ** t);
    const bc2 = 1 / (1 - o.beta2 ** t);
    // Accumulators hold the SUM of k gradients: eps·k makes AdamW exactly that of the mean.
    this.train.write(
      io.optim,
      new Float32Array(OPTIM_UNIFORM.pack({ lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps * k, wd: o.weightDecay, bc1, bc2 })),
    );
    const device = this.gpu.device;
    const aux = plan.io.aux;
    // Read back: k losses, the gradient norm, the non-finite flag, then (MoE) k aux losses.
    const staging = device.createBuffer({
      size: 4 * (k + 2 + (aux ? k : 0)),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: `step ${t} scalars`,
    });
    batches.forEach((b, j) => {
      // Queue writes land before the next submit: each micro-batch sees its own counter.
      this.train.setStep(0, plan.T, Trainer.rng(this.seed, t, k, j));
      this.train.write(plan.io.tokens, b.inputs);
      this.train.write(plan.io.targets!, b.targets);
      if (plan.io.src) this.train.write(plan.io.src, needSources(b));
      const encoder = device.createCommandEncoder({ label: `train step ${t}.${j}` });
      const last = j === k - 1;
      this.train.encode(encoder, 0, 0, last ? plan.steps.length : io.microSteps);
      encoder.copyBufferToBuffer(this.shared.get(plan.io.loss!)!, 0, staging, 4 * j, 4);
      if (aux) encoder.copyBufferToBuffer(this.shared.get(aux)!, 0, staging, 4 * (k + 2 + j), 4);
      if (last) {
        encoder.copyBufferToBuffer(this.shared.get(io.gradNorm)!, 0, staging, 4 * k, 4);
        encoder.copyBufferToBuffer(this.shared.get(io.nonfinite)!, 0, staging, 4 * (k + 1), 4);
      }
      device.queue.submit([encoder.finish()]);
    });
    const done = unlessLost(device, staging.mapAsync(GPUMapMode.READ), 'training step');
    return done.then(() => {
      const view = staging.getMappedRange().slice(0);
      staging.destroy();
      const f = new Float32Array(view);
      const u = new Uint32Array(view);
      let loss = 0;
      for (let j = 0; j < k; j++) loss += f[j]!;
      loss /= k;
      let auxMean: number | undefined;
      if (aux) {
        auxMean = 0;
        for (let j = 0; j < k; j++) auxMean += f[k + 2 + j]!;
        auxMean /= k;
      }
      const nonfinite = u[k + 1] !== 0 || !Number.isFinite(loss) || (auxMean !== undefined && !Number.isFinite(auxMean));
      return { step: t, loss, gradNorm: f[k]! / k, nonfinite, ...(auxMean !== undefined ? { aux: auxMean } : {}) };
    });
  }

  /** Dropout's randomness for micro-batch j of optimizer step t (1-based) with k micro-batches per step. */
  static rng(seed: number, t: number, k: number, j: number): { seed: number; step: number } {
    return { seed: seed >>> 0, step: ((t - 1) * k + j) >>> 0 };
  }

  /**
   * Mean validation loss over the given batches (forward only, weights shared) and, for MoE
   * models, how the router spread the validation tokens over the experts.
   */
  async evaluate(batches: Iterable<TrainBatch>): Promise<EvalResult> {
    const plan = this.plans.eval;
    const countBufs = plan.io.expertCounts ?? [];
    const counts = countBufs.map(() => [] as number[]);
    let sum = 0;
    let n = 0;
    let right = 0;
    let scored = 0;
    const classes = plan.vocabRaw ?? plan.vocab;
    for (const b of batches) {
      this.evaluator.write(plan.io.tokens, b.inputs);
      this.evaluator.write(plan.io.targets!, b.targets);
      if (plan.io.src) this.evaluator.write(plan.io.src, needSources(b));
      this.evaluator.setStep(0, plan.T);
      this.evaluator.run(0);
      sum += (await this.evaluator.readF32(plan.io.loss!, 0, 1))[0]!;
      if (plan.io.correct) {
        // One flag per position (B·T floats), not the logits: the argmax was taken on the GPU.
        for (const f of await this.evaluator.readF32(plan.io.correct)) right += f;
        for (const t of b.targets) if (t >= 0 && t < classes) scored++;
      }
      for (const [i, name] of countBufs.entries()) {
        const c = new Uint32Array((await this.evaluator.readF32(name)).buffer);
        c.forEach((v, e) => (counts[i]![e] = (counts[i]![e] ?? 0) + v));
      }
      n++;
    }
    const loss = sum / Math.max(1, n);
    const accuracy = plan.io.correct ? { accuracy: right / Math.max(1, scored) } : {};
    if (!countBufs.length) return { loss, ...accuracy };
    const expertLoad = counts.map((c) => {
      const total = c.reduce((a, b) => a + b, 0);
      return c.map((v) => (total > 0 ? v / total : 0));
    });
    return { loss, expertLoad, ...accuracy };
  }

  release(): void {
    for (const b of new Set(this.shared.values())) b.destroy();
    this.shared.clear();
  }
}
