/**
 * What `mspec profile` times, and the inputs that make each plan run as it does for a user:
 *  - inference: a decoder's decode step (what sampling waits on per token) and prefill (the
 *    prompt pass); an encoder's forward pass (its prefill plan: BERT has no decoding); an
 *    encoder–decoder's encode plan (once per source) besides its decode and prefill;
 *  - training: one step of the training plan (forward, backward, clipping, AdamW), planned as
 *    `mspec train` plans it.
 * Token inputs hold seeded ids below the real vocabulary; the Step, Sample and Optim uniforms
 * are written as sampling and training write them. The values do not change the work done.
 */
import type { Graph } from '../ir/graph.js';
import type { ModelSpec, TrainSpec } from '../semantics/model.js';
import { planTraining } from '../schedule/train-plan.js';
import type { CompiledModelData } from '../../runtime/model-runtime.js';
import type { GpuContext } from '../../runtime/device.js';
import { bindingLimitsOf } from '../../runtime/gpu/limits.js';
import type { KernelPlan } from '../../runtime/plan-types.js';
import type { PlanRunner } from '../../runtime/plan-runner.js';
import { OPTIM_UNIFORM, SAMPLE_UNIFORM } from '../../runtime/uniforms.js';
import { DEFAULT_PROFILE_BATCH } from './profile-options.js';

export interface ProfiledPlan {
  /** What the user reads: 'decode', 'prefill', 'forward', 'encode' or 'train'. */
  readonly name: string;
  readonly plan: KernelPlan;
  /** Decode plans: the position decoded at (the middle of the context: half the cache is attended). */
  readonly position?: number;
}

/** The inference plans a user waits on, most frequent first. */
export function inferencePlans(spec: ModelSpec, data: CompiledModelData): ProfiledPlan[] {
  const { prefill, decode, encode } = data.plans;
  if (spec.arch === 'encoder') return [{ name: 'forward', plan: prefill }];
  const position = Math.floor(spec.context / 2);
  return [
    ...(encode ? [{ name: 'encode', plan: encode }] : []),
    { name: 'decode', plan: decode, position },
    { name: 'prefill', plan: prefill },
  ];
}

/** A train section's recipe, or what `mspec train` assumes without one; `batch` overrides its batch. */
export function trainRecipe(
  spec: ModelSpec,
  batch: number | undefined,
): Pick<TrainSpec, 'batch' | 'seq_len' | 'clip' | 'optimizer' | 'seed'> {
  const t = spec.train;
  return {
    batch: batch ?? t?.batch ?? DEFAULT_PROFILE_BATCH,
    seq_len: t?.seq_len ?? spec.context,
    clip: t?.clip ?? 1,
    optimizer: t?.optimizer ?? { kind: 'adamw', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01 },
    seed: t?.seed ?? 1337,
  };
}

/** One optimizer step of one micro-batch (accumulation 1: every step of the plan runs once). */
export function trainPlan(spec: ModelSpec, graph: Graph, gpu: GpuContext, recipe: ReturnType<typeof trainRecipe>): ProfiledPlan {
  const limits = bindingLimitsOf(gpu.limits);
  const plan = planTraining(spec, graph, {
    B: recipe.batch,
    T: recipe.seq_len,
    clip: recipe.clip,
    accumulation: 1,
    tuning: gpu.adapterClass,
    subgroupMinSize: gpu.subgroupMinSize,
    maxBinding: limits.maxStorageBufferBindingSize,
    bindAlign: limits.minStorageBufferOffsetAlignment,
  });
  return { name: 'train', plan };
}

/** Seeded ids in [0, n): a linear congruential generator, so every run profiles the same inputs. */
function ids(count: number, n: number, seed: number): Int32Array {
  let s = seed >>> 0;
  return Int32Array.from({ length: count }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) % n);
}

/** Writes the plan's token inputs once (segments stay 0: the first segment). */
export function writeInputs(runner: PlanRunner): void {
  const { plan } = runner;
  const vocab = plan.vocabRaw ?? plan.vocab;
  const io = plan.io;
  const count = (name: string) => Math.floor(plan.buffers.find((b) => b.name === name)!.bytes / 4);
  for (const [i, name] of [io.tokens, io.targets, io.src].entries())
    if (name && plan.buffers.some((b) => b.name === name)) runner.write(name, ids(count(name), vocab, 1 + i));
  if (io.lastRow) runner.write(io.lastRow, new Int32Array([plan.T - 1]));
}

/**
 * What to write before each run: the Step uniform (a decode at `position`, a pass from 0
 * otherwise), the Sample uniform at `mspec sample`'s defaults, the Optim uniform of step 1.
 */
export function beforeEachRun(runner: PlanRunner, p: ProfiledPlan, recipe: ReturnType<typeof trainRecipe>): () => void {
  const { plan } = runner;
  const device = runner.gpu.device;
  const sample = plan.io.sample;
  const train = plan.train;
  const o = recipe.optimizer;
  const optim = train
    ? new Float32Array(
        OPTIM_UNIFORM.pack({
          lr: o.lr,
          beta1: o.betas[0],
          beta2: o.betas[1],
          eps: o.eps,
          wd: o.weight_decay,
          bc1: 1 / (1 - o.betas[0]),
          bc2: 1 / (1 - o.betas[1]),
        }),
      )
    : null;
  const row = p.position !== undefined ? 0 : plan.T - 1;
  const pos = p.position ?? plan.T;
  const sampleValues = sample
    ? SAMPLE_UNIFORM.pack({ seed: 0, stream: 0, temperature: 1, top_k: 0, top_p: 1, row, pos: Math.min(pos, plan.context - 1) })
    : null;
  return () => {
    if (p.position !== undefined) runner.setStep(p.position, p.position + 1);
    else runner.setStep(0, plan.T, train ? { seed: recipe.seed, step: 0 } : undefined);
    if (sample && sampleValues) device.queue.writeBuffer(runner.buffers.get(sample.uniform)!, 0, sampleValues);
    if (train && optim) runner.write(train.optim, optim);
  };
}
