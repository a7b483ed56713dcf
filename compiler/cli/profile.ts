/**
 * `mspec profile SPEC [--model NAME] [--train] [--batch B] [--steps N] [--json] [--svg FILE]`:
 * compiles the spec for this machine's WebGPU adapter as `build`, `sample` and `train` do,
 * runs each plan a user waits on (profile-plans.ts) a few times untimed, then N timed times,
 * and prints per step of the plan and per kind of step the time, GFLOP/s, GB/s and share,
 * with the sum of the steps against the step as the runtime runs it (runtime/profile.ts says
 * how each is measured).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname } from 'node:path';
import { diagnostic } from '../diagnostics/diagnostic.js';
import { checkTrainSupport } from '../codegen/train-support.js';
import { unboundable } from '../schedule/compile-model.js';
import type { Analysis } from '../passes/analyze.js';
import { acquireDevice, DeviceLostError, GpuUnavailableError, bindingLimitsOf, type GpuContext } from '../../runtime/device.js';
import { initialValues } from '../../runtime/init.js';
import { PlanRunner, type BufferMap } from '../../runtime/plan-runner.js';
import type { ParamInfo } from '../../runtime/plan-types.js';
import { profilePlan } from '../../runtime/profile.js';
import { compileGpu } from './gpu-model.js';
import { printDiagnostics } from './output.js';
import { specTarget } from './spec-target.js';
import { beforeEachRun, inferencePlans, trainPlan, trainRecipe, writeInputs, type ProfiledPlan } from './profile-plans.js';
import { METHOD_TEXT, planReport, planText, type PlanReport } from './profile-report.js';
import { profileSvg } from './profile-svg.js';
import { bytes } from './units.js';

export interface ProfileArgs {
  target: string;
  model?: string | undefined;
  train: boolean;
  batch?: number | undefined;
  /** Timed runs of each plan. */
  steps: number;
  warmup: number;
  json: boolean;
  svg?: string | undefined;
}

/** A problem with what the user asked for, said plainly (exit `code`). */
class ProfileError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

export async function runProfile(args: ProfileArgs): Promise<number> {
  try {
    return await profile(args);
  } catch (e) {
    if (e instanceof ProfileError || e instanceof GpuUnavailableError || e instanceof DeviceLostError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e instanceof ProfileError ? e.code : 1;
    }
    throw e;
  }
}

async function profile(args: ProfileArgs): Promise<number> {
  const split = specTarget(args.target);
  if (args.model !== undefined && split.model !== undefined && args.model !== split.model)
    throw new ProfileError(`${args.target} names model '${split.model}' but --model names '${args.model}'; give one`, 2);
  const model = args.model ?? split.model;
  // Before minutes of profiling: the chart's folder must exist.
  if (args.svg !== undefined) {
    const dir = dirname(args.svg);
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new ProfileError(`cannot write the chart to '${args.svg}': the folder '${dir}' does not exist`, 2);
  }
  const gpu = await acquireDevice({ timestamps: true });
  try {
    const r = compileGpu(split.file, {
      model,
      ...(split.host ? { host: split.host } : {}),
      ...(split.tokenizer ? { tokenizer: split.tokenizer } : {}),
      tuning: gpu.adapterClass,
      subgroupMinSize: gpu.subgroupMinSize,
      adapter: gpu.adapter.summary,
      limits: bindingLimitsOf(gpu.limits),
    });
    printDiagnostics(r.diagnostics, r.sources);
    if (r.diagnostics.some((d) => d.severity === 'error')) return 1;
    if (r.models.length !== 1)
      throw new ProfileError(
        `${split.file} defines ${r.models.length} models; pick one with --model ${r.models.map((m) => m.data.name).join(' or --model ')}`,
        2,
      );
    const { model: compiled, data } = r.models[0]!;
    const { spec, graph } = compiled;
    const recipe = trainRecipe(spec, args.batch);
    let plans: ProfiledPlan[];
    if (args.train) {
      // Without a train section there is no recipe to check beyond the GPU support compileGpu checked.
      const support = spec.train ? checkTrainSupport(spec, spec.train) : null;
      if (support?.hasErrors) {
        printDiagnostics(support.all, r.sources);
        return 1;
      }
      refuseOversized(gpu, compiled.analysis?.train_memory_bytes, recipe.batch * recipe.seq_len);
      const train = trainPlan(spec, graph!, gpu, recipe);
      const problem = unboundable(train.plan, bindingLimitsOf(gpu.limits));
      if (problem) {
        printDiagnostics([diagnostic('MS4002', spec.span, problem, { hint: problem.hint })], r.sources);
        return 1;
      }
      plans = [train];
    } else {
      if (args.batch !== undefined)
        throw new ProfileError('--batch sizes the training step; inference plans run one sequence. Add --train, or drop --batch', 2);
      plans = inferencePlans(spec, data);
    }
    const reports = await run(gpu, data.params, plans, args, recipe);
    const result = {
      model: data.name,
      adapter: gpu.adapter.summary,
      method: gpu.features.has('timestamp-query') ? ('timestamps' as const) : ('wall-clock' as const),
      warmup: args.warmup,
      runs: args.steps,
      plans: reports,
    };
    if (args.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      process.stdout.write(
        `${data.name} on ${result.adapter}\ntiming: ${METHOD_TEXT[result.method]}; medians of ${args.steps} runs after ${args.warmup} warm-up runs\n\n`,
      );
      process.stdout.write(reports.map((p) => planText(p, args.steps)).join('\n\n') + '\n');
    }
    if (args.svg !== undefined) {
      writeFileSync(args.svg, profileSvg(`mspec profile: ${data.name} on ${result.adapter}`, reports));
      if (!args.json) process.stdout.write(`\nchart: ${args.svg}\n`);
    }
    return 0;
  } finally {
    gpu.release();
  }
}

/**
 * A software adapter keeps its buffers in this machine's memory: refuse, before planning, a
 * training step whose estimated memory (`mspec info`'s, scaled to these tokens) cannot fit.
 */
function refuseOversized(gpu: GpuContext, m: Analysis['train_memory_bytes'] | undefined, tokens: number): void {
  if (!m || gpu.adapterClass !== 'cpu') return;
  const need = 4 * m.weights + (m.activations * tokens) / (m.batch * m.seq);
  if (need > totalmem() / 2)
    throw new ProfileError(
      `a training step of ${tokens} tokens needs about ${bytes(need)}, more than half of this machine's ${bytes(totalmem())} of memory (the software adapter keeps its buffers there); use a smaller --batch`,
    );
}

/** Allocates every plan's buffers (weights shared by name), seeds the weights and times each plan. */
async function run(
  gpu: GpuContext,
  params: readonly ParamInfo[],
  plans: readonly ProfiledPlan[],
  args: ProfileArgs,
  recipe: ReturnType<typeof trainRecipe>,
): Promise<PlanReport[]> {
  // The buffers of a software adapter live in this machine's memory: refuse what cannot fit.
  const need = new Map<string, number>();
  for (const p of plans) for (const b of p.plan.buffers) need.set(b.name, Math.max(need.get(b.name) ?? 0, b.bytes));
  const total = [...need.values()].reduce((a, b) => a + b, 0);
  if (gpu.adapterClass === 'cpu' && total > totalmem() / 2)
    throw new ProfileError(
      `the plans need ${bytes(total)} of buffers, more than half of this machine's ${bytes(totalmem())} of memory (the software adapter keeps them there); use a smaller --batch`,
    );
  const device = gpu.device;
  const shared: BufferMap = new Map();
  device.pushErrorScope('out-of-memory');
  const runners = plans.map((p) => new PlanRunner(gpu, p.plan, shared));
  const oom = await device.popErrorScope();
  if (oom)
    throw new ProfileError(`the device could not allocate the plans' ${bytes(total)} of buffers (${oom.message}); use a smaller --batch`);
  await Promise.all(runners.map((x) => x.compile()));
  for (const p of params) runners[0]!.write(p.name, initialValues(p, recipe.seed));
  const reports: PlanReport[] = [];
  for (const [i, p] of plans.entries()) {
    const runner = runners[i]!;
    writeInputs(runner);
    const timings = await profilePlan(runner, {
      warmup: args.warmup,
      runs: args.steps,
      offset: p.position ?? 0,
      before: beforeEachRun(runner, p, recipe),
    });
    reports.push(planReport(p.name, p.plan, timings, p.position));
  }
  return reports;
}
