/**
 * The training loop, shared by `mspec train` and the trainer that `mspec build` generates
 * beside a model module (out/<model>/train.js), so both run exactly the same steps. It needs
 * only the runtime: the compiled plans, the data, a device and a run folder.
 *
 * A run folder holds: config.json (what --resume needs), optimizer.safetensors (the whole
 * training state: weights, AdamW moments and the run state; see ./checkpoint.ts for why one
 * file), last.safetensors (weights; its metadata carries the spec and tokenizer), state.json
 * (a readable copy of the run state), metrics.jsonl and loss.svg, each written atomically.
 * Batches and dropout masks depend only on (seed, step), the kernels are deterministic and the
 * optimizer state is saved exactly, so a resumed run continues the uninterrupted loss curve
 * even after a SIGKILL.
 *
 * Steps are pipelined (step s+1 is queued before step s's loss is read back), except that a
 * step that is evaluated or checkpointed is drained first: validation and the checkpoint
 * labelled s see the weights after exactly s updates.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fitWeights } from '../checkpoint/fit.js';
import { readSafetensors, writeFileAtomic } from '../checkpoint/safetensors.js';
import { BatchSampler, evalBatches } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import type { PairsDataset } from '../data/pairs-dataset.js';
import { Seq2SeqFeed } from './seq2seq.js';
import { maskEvalBatches, mlmMasking, nextMaskedBatch } from '../data/masking.js';
import type { GpuContext } from '../device.js';
import { checkpointMetadata, ModelRuntime, type CompiledModelData } from '../model-runtime.js';
import { lossChartSvg } from './chart.js';
import { ProgressBar } from './progress.js';
import { clearRun, loadCheckpoint, removeStaleTemps, saveCheckpoint, WEIGHTS_FILE, type RunState } from './checkpoint.js';
import { learningRate } from './schedule.js';
import { Trainer, type StepResult, type TrainPlans } from './trainer.js';
import { routingSummary } from './routing.js';
import { sleep } from '../gpu/queue.js';

/** One line of metrics.jsonl. */
interface MetricsRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_s: number;
  /** MoE with a load-balancing loss: the auxiliary loss added to `loss` for the gradient. */
  aux_loss?: number;
  val_loss?: number;
  val_ppl?: number;
  /** Masked LM: the fraction of masked positions whose argmax is the original token. */
  val_acc?: number;
  /** seq2seq: the fraction of held-out sources decoded greedily to exactly their target. */
  val_exact?: number;
  /** MoE, at evaluations: per MoE layer, each expert's fraction of the routed slots. */
  expert_load?: number[][];
}

/** The recipe fields the loop uses (the compiler's TrainSpec has them all). */
export interface TrainRecipe {
  readonly data: string;
  readonly tokenizer: string;
  readonly batch: number;
  readonly seq_len: number;
  readonly steps: number;
  readonly optimizer: {
    readonly lr: number;
    readonly betas: readonly [number, number];
    readonly eps: number;
    readonly weight_decay: number;
  };
  readonly schedule: { readonly kind: 'cosine' | 'linear' | 'constant'; readonly warmup: number; readonly min_lr: number };
  readonly eval: { readonly every: number; readonly batches: number };
  readonly checkpoint_every: number;
  readonly seed: number;
  /** Absent: causal_lm. mlm: windows are masked (../data/masking.ts) and scored at the masked positions only. */
  readonly objective?: 'causal_lm' | 'mlm' | 'seq2seq';
  /** mlm: the fraction of each window's positions to predict. */
  readonly mask_prob?: number;
}

export type { RunState } from './checkpoint.js';

export interface RunOptions {
  readonly gpu: GpuContext;
  readonly model: CompiledModelData;
  readonly plans: TrainPlans;
  readonly recipe: TrainRecipe;
  /** A token stream (causal_lm, mlm) or, for seq2seq, (source, target) pairs. */
  readonly dataset: Dataset | PairsDataset;
  readonly dir: string;
  /**
   * `dir` holds a run that this new one replaces (--overwrite): its files are removed once the
   * data, the prompt and any --init weights are accepted, so a refused run leaves the old one whole.
   */
  readonly replace?: boolean;
  /** Written to config.json when the run starts (what --resume reads back). */
  readonly config: unknown;
  /**
   * Resume the run in `dir`. Its checkpoint (optimizer.safetensors) is authoritative: this
   * state (state.json as read by the caller) is only compared with it.
   */
  readonly resume?: RunState;
  /**
   * The learning-rate schedule's length: fixed when a run starts (default: the recipe's steps,
   * or on resume the checkpoint's), so extending a run does not stretch the decay.
   */
  readonly scheduleSteps?: number;
  /** A checkpoint to start from (fine-tuning). */
  readonly init?: string;
  /** More metadata for the weights file (the license the weights are bound by: ./checkpoint.ts LICENSE_KEY). */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly prompt?: string;
  readonly sampleTokens: number;
}

/** Trains; returns the exit code (0 done, 1 diverged, 130 interrupted and saved). */
export async function runTraining(o: RunOptions): Promise<number> {
  const { gpu, plans, recipe } = o;
  // seq2seq reads (source, target) pairs (./seq2seq.ts); the other objectives a token stream.
  const pairs = 'ids' in o.dataset ? o.dataset : null;
  const data = pairs ? null : (o.dataset as Dataset);
  const dir = o.dir;
  const B = recipe.batch;
  const T = recipe.seq_len;
  // The prompt of the closing sample must encode: found now, not after the whole run.
  if (o.prompt !== undefined && data && o.sampleTokens > 0) data.tokenizer.encode(o.prompt);
  const trainer = await Trainer.create(gpu, o.model.params, plans, recipe.seed);
  try {
    const metricsPath = join(dir, 'metrics.jsonl');
    let start = 0;
    let elapsedBefore = 0;
    let resumed: RunState | undefined;
    const metrics: MetricsRecord[] = [];
    if (o.resume) {
      removeStaleTemps(dir);
      const ckpt = loadCheckpoint(dir, o.model.params);
      trainer.setState(ckpt.tensors);
      resumed = ckpt.run;
      if (resumed.step !== o.resume.step)
        process.stderr.write(
          `note: state.json says step ${o.resume.step} but the checkpoint holds step ${resumed.step} (the run was killed while saving); resuming from step ${resumed.step}\n`,
        );
      start = resumed.step;
      elapsedBefore = resumed.elapsed_s;
      if (existsSync(metricsPath)) {
        for (const line of readFileSync(metricsPath, 'utf8').split('\n')) {
          if (!line.trim()) continue;
          const rec = JSON.parse(line) as MetricsRecord;
          if (rec.step! <= start) metrics.push(rec);
        }
      }
      process.stderr.write(`resuming ${o.model.name} from ${dir} at step ${start}/${recipe.steps}\n`);
    } else {
      if (o.init) {
        // Checked tensor by tensor before anything is uploaded; the AdamW moments start at zero.
        const weights = fitWeights(readSafetensors(o.init), o.model.params, o.model.name, `--init checkpoint '${o.init}'`);
        trainer.init(recipe.seed);
        trainer.setState(weights);
      } else trainer.init(recipe.seed);
    }
    const s2s = pairs
      ? new Seq2SeqFeed(pairs, { batch: B, S: o.model.context, T, seed: recipe.seed, evalBatches: recipe.eval.batches }, resumed?.sampler)
      : null;
    const stream = data
      ? resumed
        ? BatchSampler.restore(data.train, { batch: B, seqLen: T, seed: recipe.seed, split: 'training split' }, resumed.sampler)
        : new BatchSampler(data.train, { batch: B, seqLen: T, seed: recipe.seed, split: 'training split' })
      : null;
    const sampler = (s2s?.sampler ?? stream)!;
    const windows = data ? evalBatches(data.val, { batch: B, seqLen: T, count: recipe.eval.batches, split: 'validation split' }) : [];
    // A masked LM predicts the masked tokens of the window itself (unshifted); its losses are masked-token losses.
    const mlm = data && recipe.objective === 'mlm' ? mlmMasking(data.tokenizer, recipe.mask_prob ?? 0.15, recipe.seed) : null;
    const valBatches = s2s ? s2s.valBatches : mlm ? maskEvalBatches(windows, T, mlm) : windows;
    const nextBatch = () => (s2s ? s2s.sampler.next() : mlm ? nextMaskedBatch(stream!, T, mlm) : stream!.next());
    // Only now, with the data and any --init weights accepted, does the folder become a run: a run
    // refused for its input leaves nothing that a corrected retry would have to --overwrite.
    mkdirSync(dir, { recursive: true });
    if (o.replace && !o.resume) clearRun(dir);
    if (!o.resume) writeFileAtomic(join(dir, 'config.json'), JSON.stringify(o.config, null, 2) + '\n');
    writeFileAtomic(metricsPath, metrics.map((r) => JSON.stringify(r)).join('\n') + (metrics.length ? '\n' : ''));
    const opt = recipe.optimizer;
    const optim = { lr: opt.lr, beta1: opt.betas[0], beta2: opt.betas[1], eps: opt.eps, weightDecay: opt.weight_decay };
    const scheduleSteps = o.scheduleSteps ?? resumed?.schedule_steps ?? recipe.steps;
    const sched = {
      lr: opt.lr,
      warmup: recipe.schedule.warmup,
      min_lr: recipe.schedule.min_lr,
      kind: recipe.schedule.kind,
      steps: scheduleSteps,
    };

    let lastSaved = -1;
    const save = async (step: number, elapsed: number) => {
      // Batches are a pure function of (seed, step): the data position is the steps done.
      const st: RunState = {
        step,
        sampler: { seed: sampler.state.seed, step: step * plans.train.train!.accumulation },
        elapsed_s: elapsed,
        schedule_steps: scheduleSteps,
      };
      saveCheckpoint(dir, o.model.params, await trainer.state(true), st, { ...checkpointMetadata(o.model), ...o.metadata });
      lastSaved = step;
    };
    const chart = () => {
      const trainPts = metrics.filter((r) => r.loss !== undefined).map((r) => [r.step!, r.loss!] as const);
      const valPts = metrics.filter((r) => r.val_loss !== undefined).map((r) => [r.step!, r.val_loss!] as const);
      writeFileAtomic(
        join(dir, 'loss.svg'),
        lossChartSvg(`${o.model.name}: ${recipe.tokenizer} tokens, batch ${B} × ${T}`, [
          { name: 'train loss', color: '#1f77b4', points: trainPts },
          { name: 'validation loss', color: '#d62728', points: valPts },
        ]),
      );
    };

    // ── the loop ──
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      process.stderr.write('\ninterrupted: finishing the current step and saving a checkpoint (Ctrl-C again to quit without saving)\n');
    };
    process.on('SIGINT', onSigint);
    // The GPU child's stderr is a line-filtered pipe (compiler/cli/gpu-child.ts), where a bar
    // redrawn in place cannot pass; stdout is the terminal itself, so the bar goes there.
    const bar = process.stdout.isTTY ? new ProgressBar(process.stdout, recipe.steps, start) : null;
    /** A line above the bar (or a plain line without one). */
    const say = (line: string) => (bar ? bar.line(line) : process.stdout.write(`${line}\n`));
    const logEvery = Math.max(1, Math.floor(recipe.steps / 50));
    const isEvalStep = (s: number) => recipe.eval.every > 0 && (s % recipe.eval.every === 0 || s === recipe.steps);
    const isCheckpointStep = (s: number) => recipe.checkpoint_every > 0 && s % recipe.checkpoint_every === 0;
    const t0 = Date.now();
    let lastGood = start;
    let stepsTimed = 0;
    let nanAt: number | null = null;
    let stepMs = 0; // moving average of the time between finished steps
    let lastDone = 0;
    const finish = async (res: StepResult, lr: number) => {
      if (res.nonfinite) {
        nanAt = res.step;
        return;
      }
      stepsTimed++;
      const elapsed = (Date.now() - t0) / 1000;
      const tps = (stepsTimed * B * T * plans.train.train!.accumulation) / Math.max(elapsed, 1e-9);
      const rec: MetricsRecord = { step: res.step, loss: res.loss, lr, grad_norm: res.gradNorm, tokens_per_s: Math.round(tps) };
      if (res.aux !== undefined) rec.aux_loss = res.aux;
      if (isEvalStep(res.step)) {
        const { loss: val, expertLoad, accuracy } = await trainer.evaluate(valBatches);
        rec.val_loss = val;
        rec.val_ppl = Math.exp(val);
        const acc = mlm && accuracy !== undefined ? accuracy : undefined;
        if (acc !== undefined) rec.val_acc = acc;
        if (expertLoad) rec.expert_load = expertLoad;
        const em = s2s ? await s2s.exactMatch(trainer, o.model, gpu) : null;
        if (em) rec.val_exact = em.accuracy;
        const exact = em
          ? `, exact match ${(100 * em.accuracy).toFixed(1)}% of ${em.pairs} (${JSON.stringify(em.example.source)} → ${JSON.stringify(em.example.output)})`
          : '';
        say(
          `step ${res.step}: ${mlm ? 'masked-token ' : ''}validation loss ${val.toFixed(4)}, perplexity ${Math.exp(val).toFixed(2)}${acc !== undefined ? `, accuracy ${(100 * acc).toFixed(1)}%` : ''}${exact}${expertLoad ? `, ${routingSummary(expertLoad)}` : ''}`,
        );
      }
      metrics.push(rec);
      writeFileAtomic(metricsPath, metrics.map((r) => JSON.stringify(r)).join('\n') + '\n');
      if (bar) bar.update(res.step, { loss: res.loss, tokensPerS: tps, lr });
      else if (res.step % logEvery === 0 || res.step === recipe.steps)
        process.stdout.write(
          `step ${res.step}/${recipe.steps} loss ${res.loss.toFixed(4)} lr ${lr.toExponential(2)} ${Math.round(tps)} tok/s\n`,
        );
      if (isCheckpointStep(res.step)) {
        await save(res.step, elapsedBefore + elapsed);
        lastGood = res.step;
      }
    };
    interface Pending {
      readonly step: number;
      readonly lr: number;
      readonly result: Promise<StepResult>;
    }
    /** Waits for a queued step and records it (or, after a NaN, only lets it drain). */
    const settle = async (p: Pending) => {
      // Waiting on mapAsync keeps the JS thread spinning, which takes a core from a software
      // adapter's workers: sleep for most of a step first (webgpu-on-cpu.md).
      if (stepMs > 0) await sleep(0.75 * stepMs);
      if (nanAt !== null) return void (await p.result.catch(() => undefined));
      const res = await p.result;
      const now = performance.now();
      if (lastDone > 0) stepMs = stepMs === 0 ? now - lastDone : 0.9 * stepMs + 0.1 * (now - lastDone);
      lastDone = now;
      await finish(res, p.lr);
    };
    let inflight: Pending | null = null;
    for (let step = start + 1; step <= recipe.steps && !interrupted && nanAt === null; step++) {
      const micro = Array.from({ length: plans.train.train!.accumulation }, nextBatch);
      const lr = learningRate(step - 1, sched);
      const next: Pending = { step, lr, result: trainer.submitAccumulated(step, micro, lr, optim) };
      if (inflight) await settle(inflight);
      inflight = next;
      if (isEvalStep(step) || isCheckpointStep(step)) {
        // Drain: nothing more is queued until this step is evaluated and saved, so both see
        // the weights after exactly `step` updates.
        await settle(inflight);
        inflight = null;
        lastDone = performance.now(); // the next interval starts now, not before the eval/save
      }
    }
    if (inflight) await settle(inflight);
    bar?.stop();
    process.off('SIGINT', onSigint);
    if (nanAt !== null) {
      const where =
        lastGood > 0 || o.resume
          ? `the last good checkpoint is ${join(dir, WEIGHTS_FILE)} (step ${lastGood})`
          : 'no checkpoint was saved before it';
      process.stderr.write(
        `error: the loss or the gradients became NaN/Inf at step ${nanAt}; training stopped and ${where}. Lower the learning rate (or raise warmup / clip) and resume or restart.\n`,
      );
      chart();
      return 1;
    }
    const done = metrics.length ? metrics[metrics.length - 1]!.step! : start;
    if (lastSaved !== done) await save(done, elapsedBefore + (Date.now() - t0) / 1000);
    chart();
    if (interrupted) {
      process.stderr.write(`saved ${join(dir, WEIGHTS_FILE)} at step ${done}; continue with: mspec train --resume ${dir}\n`);
      return 130;
    }
    process.stdout.write(
      `saved ${join(dir, WEIGHTS_FILE)} (step ${done}); metrics in ${metricsPath}, loss curve in ${join(dir, 'loss.svg')}\n`,
    );

    // ── a sample from the trained model ──
    // An encoder generates nothing: `mspec sample CKPT --fill "…[MASK]…"` shows what it learned.
    if (mlm && o.sampleTokens > 0)
      process.stdout.write(
        `fill masked text with: mspec sample ${join(dir, WEIGHTS_FILE)} --fill "… ${data!.tokenizer.decode([mlm.maskId])} …"\n`,
      );
    s2s?.release();
    // An encoder–decoder answers a source: show how to ask it (its held-out exact match was printed at the last evaluation).
    if (s2s && o.sampleTokens > 0) {
      const source = s2s.data.tokenizer.decode([...s2s.data.val[0]!.source]);
      process.stdout.write(`decode a source with: mspec sample ${join(dir, WEIGHTS_FILE)} --input ${JSON.stringify(source)}\n`);
    }
    if (o.sampleTokens > 0 && data && !mlm) {
      const rt = await ModelRuntime.create(o.model, { gpu });
      try {
        rt.load(join(dir, WEIGHTS_FILE));
        const tok = rt.tokenizer!;
        let ids =
          o.prompt !== undefined ? tok.encode(o.prompt) : Array.from(data.val.subarray(0, Math.min(16, Math.floor(o.model.context / 2))));
        // The run is done: a prompt longer than the window is cut to its end rather than failing it.
        if (ids.length > o.model.context) {
          process.stderr.write(
            `note: the prompt is ${ids.length} tokens; the sample continues its last ${o.model.context} (the context window)\n`,
          );
          ids = ids.slice(-o.model.context);
        }
        process.stdout.write(`\nsample (temperature 0.8, seed ${recipe.seed}):\n${tok.decode(ids)}`);
        const out: number[] = [];
        let printed = '';
        for await (const id of rt.generate(ids, {
          maxTokens: o.sampleTokens,
          temperature: 0.8,
          topK: 40,
          seed: recipe.seed,
          onContextFull: 'slide',
        })) {
          out.push(id);
          const text = tok.decode(out);
          const complete = text.endsWith('\uFFFD') ? text.slice(0, text.lastIndexOf('\uFFFD')) : text;
          if (complete.length > printed.length) {
            process.stdout.write(complete.slice(printed.length));
            printed = complete;
          }
        }
        process.stdout.write('\n');
      } finally {
        rt.release();
      }
    }
    return 0;
  } finally {
    trainer.release();
  }
}
