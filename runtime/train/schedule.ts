/**
 * The learning-rate schedule of the `train.schedule` section, evaluated on the host once per
 * optimizer step (0-based `step`) and written into the Optim uniform.
 *
 * It is nanoGPT's get_lr (train.py) with lr_decay_iters = steps:
 *   step < warmup          lr · (step + 1) / (warmup + 1)          (linear warmup; never 0)
 *   step > steps           min_lr
 *   otherwise, with ratio = (step − warmup) / (steps − warmup) ∈ [0, 1]:
 *     cosine    min_lr + 0.5·(1 + cos(π·ratio)) · (lr − min_lr)
 *     linear    min_lr + (1 − ratio) · (lr − min_lr)
 *     constant  lr                                              (min_lr ignored)
 * So the first step after warmup runs at lr, and the rate reaches min_lr at step = steps
 * (nanoGPT's loop runs iter_num 0..max_iters inclusive; a run of `steps` steps, 0..steps−1,
 * ends one decay step short of min_lr). With steps <= warmup the decay has no length and
 * every post-warmup step runs at min_lr (the spec checker rejects warmup >= steps anyway).
 */

export type ScheduleKind = 'cosine' | 'linear' | 'constant';

export interface ScheduleOptions {
  /** Peak learning rate (reached at the end of warmup). */
  lr: number;
  /** Warmup steps (0: none). */
  warmup: number;
  /** Floor of the decay (cosine / linear). */
  min_lr: number;
  kind: ScheduleKind;
  /** Steps over which warmup + decay run (nanoGPT's lr_decay_iters; the run's total steps). */
  steps: number;
}

export function learningRate(step: number, o: ScheduleOptions): number {
  if (!Number.isInteger(step) || step < 0) throw new Error(`learningRate: step must be an integer >= 0, got ${step}`);
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new Error(`learningRate: warmup must be an integer >= 0, got ${o.warmup}`);
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new Error(`learningRate: steps must be an integer >= 0, got ${o.steps}`);
  if (!(Number.isFinite(o.lr) && o.lr >= 0)) throw new Error(`learningRate: lr must be finite and >= 0, got ${o.lr}`);
  if (o.kind !== 'constant' && !(Number.isFinite(o.min_lr) && o.min_lr >= 0))
    throw new Error(`learningRate: min_lr must be finite and >= 0, got ${o.min_lr}`);
  if (step < o.warmup) return (o.lr * (step + 1)) / (o.warmup + 1);
  switch (o.kind) {
    case 'constant':
      return o.lr;
    case 'cosine':
    case 'linear': {
      if (step > o.steps || o.steps <= o.warmup) return o.min_lr;
      const ratio = (step - o.warmup) / (o.steps - o.warmup);
      const coeff = o.kind === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * ratio)) : 1 - ratio;
      return o.min_lr + coeff * (o.lr - o.min_lr);
    }
    default: {
      const never: never = o.kind;
      throw new Error(`learningRate: unknown schedule kind '${String(never)}'`);
    }
  }
}
