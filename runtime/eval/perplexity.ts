/// <reference types="@webgpu/types" />
/**
 * Streaming evaluation of a causal language model: the negative log-likelihood of every token
 * of a stream, scored once each (./windows.ts), summed in float64.
 *
 * It runs the forward ("training eval") plan of B windows × T positions, whose fused softmax +
 * cross-entropy kernel writes each position's loss, logsumexp(logits) − logit[target], into
 * its `loss_rows` buffer; positions with target −1 are skipped by that kernel (loss 0). So a
 * pass reads back B·T floats, never the B·T·V logits. Padding past the stream's end and the
 * context-only positions of overlapping windows get target −1; inputs past the end are token
 * 0, which a causal model cannot see from the scored positions before them. In a vocabulary
 * padded to vocab_multiple the kernel leaves the padding logits out of the logsumexp, so the
 * likelihoods are over the real tokens only.
 */
import { fitWeights } from '../checkpoint/fit.js';
import type { STFile } from '../checkpoint/safetensors.js';
import type { GpuContext } from '../device.js';
import { PlanRunner } from '../plan-runner.js';
import type { KernelPlan, ParamInfo } from '../plan-types.js';
import type { ScoringWindow } from './windows.js';

export interface StreamNll {
  /** Σ −ln p(token | context) over the scored tokens, accumulated in float64 (nats). */
  readonly nll: number;
  /** Tokens scored (the stream's length − 1). */
  readonly tokens: number;
  readonly windows: number;
  /** GPU passes of B windows. */
  readonly passes: number;
}

export interface EvalProgress {
  readonly scored: number;
  readonly total: number;
}

export class WindowEvaluator {
  private readonly lossRows: string;

  private constructor(
    private readonly runner: PlanRunner,
    readonly plan: KernelPlan,
    private readonly params: readonly ParamInfo[],
  ) {
    // The buffer the fused cross-entropy kernel writes per-position losses into.
    const step = plan.steps.find((s) => s.kind === 'kernel' && s.bind.loss_rows !== undefined);
    if (!step || step.kind !== 'kernel' || !plan.io.targets)
      throw new Error(`internal: the ${plan.mode} plan of ${plan.model} has no per-position loss (loss_rows) or no targets`);
    this.lossRows = step.bind.loss_rows!;
  }

  /** `plan` must be a forward plan (mode 'forward', with targets and a loss). */
  static async create(gpu: GpuContext, plan: KernelPlan, params: readonly ParamInfo[]): Promise<WindowEvaluator> {
    if (plan.mode !== 'forward') throw new Error(`internal: evaluation needs a forward plan, got ${plan.mode}`);
    const runner = new PlanRunner(gpu, plan);
    await runner.compile();
    return new WindowEvaluator(runner, plan, params);
  }

  /** Uploads the checkpoint's weights after checking every name, dtype and shape against the model. */
  setWeights(file: STFile, source: string): void {
    for (const [name, values] of fitWeights(file, this.params, this.plan.model, source)) this.runner.write(name, values);
  }

  /**
   * The summed NLL of `tokens` over `windows` (from scoringWindows with this plan's T), B
   * windows per pass. Throws a NonFiniteLossError naming the first token whose loss is NaN/Inf.
   */
  async score(tokens: ArrayLike<number>, windows: readonly ScoringWindow[], onProgress?: (p: EvalProgress) => void): Promise<StreamNll> {
    const { B, T } = this.plan;
    const vocab = this.plan.vocabRaw ?? this.plan.vocab;
    const total = windows.reduce((s, w) => s + (w.to - w.from), 0);
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    let nll = 0;
    let scored = 0;
    let passes = 0;
    // Sleep before the read-back instead of spinning on mapAsync, which takes a core from a
    // software adapter: half the fastest pass so far. The first pass (shader JIT) is not counted,
    // and a pass's time includes that sleep, so the estimate can only shrink toward the truth.
    let fastestMs = Infinity;
    for (let first = 0; first < windows.length; first += B) {
      inputs.fill(0);
      targets.fill(-1);
      const group = windows.slice(first, first + B);
      group.forEach((w, b) => {
        const row = b * T;
        const end = Math.min(w.start + T, tokens.length);
        for (let p = 0; w.start + p < end; p++) inputs[row + p] = tokens[w.start + p]!;
        for (let p = w.from; p < w.to; p++) {
          const id = tokens[w.start + p + 1]!;
          // An id outside the real vocabulary (past vocabRaw: padding) would be skipped by the kernel (loss 0): callers check ids first.
          if (!(id >= 0 && id < vocab))
            throw new Error(`internal: token ${w.start + p + 1} has id ${id}, outside the vocabulary of ${vocab}`);
          targets[row + p] = id;
        }
      });
      const t0 = performance.now();
      this.runner.write(this.plan.io.tokens, inputs);
      this.runner.write(this.plan.io.targets!, targets);
      this.runner.setStep(0, T);
      this.runner.run(0);
      const losses = await this.runner.readF32(this.lossRows, 0, group.length * T, Number.isFinite(fastestMs) ? 0.5 * fastestMs : 0);
      if (passes > 0) fastestMs = Math.min(fastestMs, performance.now() - t0);
      passes++;
      group.forEach((w, b) => {
        for (let p = w.from; p < w.to; p++) {
          const l = losses[b * T + p]!;
          if (!Number.isFinite(l)) throw new NonFiniteLossError(w.start + p + 1, l);
          nll += l;
        }
        scored += w.to - w.from;
      });
      onProgress?.({ scored, total });
    }
    return { nll, tokens: scored, windows: windows.length, passes };
  }

  release(): void {
    for (const b of new Set(this.runner.buffers.values())) b.destroy();
  }
}

/** The model's loss is NaN or infinite at some token: the weights have diverged or are damaged. */
export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
  constructor(
    readonly token: number,
    value: number,
  ) {
    super(
      `the model's loss is ${value} at token ${token} of the text: the checkpoint's weights are not finite (a diverged or damaged run); evaluate an earlier checkpoint`,
    );
  }
}
