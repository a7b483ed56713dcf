/**
 * `mspec sample SPEC|CHECKPOINT --prompt ...`: compiles the model for this machine's WebGPU
 * adapter, takes weights from the checkpoint (or a seeded init for a bare spec), runs the
 * prompt through one prefill pass and streams tokens from the KV-cached decode loop. An
 * encoder–decoder takes `--input SOURCE` instead: the source is encoded once, and the decoder
 * runs from its start token with its KV cache and the kept cross-attention K/V until its
 * end-of-sequence token.
 */
import { isUserError } from '../../runtime/user-error.js';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { ModelRuntime, type GenerateOptions, type SpeculativeStats } from '../../runtime/model-runtime.js';
import { draftMismatch } from '../../runtime/speculative.js';
import { type TokenizerData } from '../../runtime/tokenizers/index.js';
import type { Host } from '../semantics/resolve.js';
import { checkpointSpec } from './checkpoint-spec.js';
import { checkpointPath } from './spec-target.js';
import { runFill } from './fill.js';
import { compileGpu } from './gpu-model.js';
import { printDiagnostics, splitTarget } from './output.js';
import { detectTuning } from './tuning.js';

export interface SampleArgs {
  target: string;
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  stop: string[];
  slide: boolean;
  /** Masked LM: the text whose `[MASK]`s to fill (./fill.ts) instead of generating. */
  fill?: string | undefined;
  /** With --fill: print JSON. */
  json?: boolean | undefined;
  /** Encoder–decoder: the source to decode from (instead of a prompt to continue). */
  input?: string | undefined;
  /** Speculative decoding: the draft model (spec or checkpoint) and the tokens it proposes per verify pass. */
  draft?: string | undefined;
  lookahead?: number | undefined;
  /** Decode steps per submission (default adaptive). */
  chunk?: number | undefined;
  /** Sample on the CPU (the reference) instead of on the device. */
  hostSampling?: boolean | undefined;
}

/** A spec or checkpoint compiled for this adapter: its data and the checkpoint's weights, or an exit code. */
async function loadTarget(
  target: string,
  lookahead: number | undefined,
): Promise<number | { r: ReturnType<typeof compileGpu>; checkpoint: ReturnType<typeof readSafetensors> | undefined; file: string }> {
  const isCheckpoint = target.endsWith('.safetensors');
  let compileTarget = target;
  let host: Host | undefined;
  let modelName: string | undefined;
  let checkpoint: ReturnType<typeof readSafetensors> | undefined;
  let tokenizer: TokenizerData | undefined;
  try {
    if (isCheckpoint) {
      checkpoint = readSafetensors(target);
      // The checkpoint's own spec and tokenizer (a char vocabulary from its corpus) win over the disk's.
      const carried = checkpointSpec(target, checkpoint.metadata);
      modelName = carried.model;
      host = carried.host;
      tokenizer = carried.tokenizer ?? undefined;
      compileTarget = carried.sources.entry;
    }
  } catch (e) {
    return fail(e);
  }
  const { file, model } = isCheckpoint ? { file: compileTarget, model: modelName } : splitTarget(compileTarget);
  const tuning = await detectTuning();
  const r = compileGpu(file, {
    model,
    tuning: tuning.tuning,
    subgroupMinSize: tuning.subgroupMinSize,
    adapter: tuning.adapter,
    limits: tuning.limits,
    ...(lookahead ? { lookahead } : {}),
    ...(host ? { host } : {}),
    ...(tokenizer ? { tokenizer } : {}),
  });
  printDiagnostics(r.diagnostics, r.sources);
  if (r.diagnostics.some((d) => d.severity === 'error')) return 1;
  if (r.models.length !== 1) {
    process.stderr.write(
      `error MS5002: ${file} defines ${r.models.length} models; pick one with ${file}#${r.models[0]?.data.name ?? 'name'}\n`,
    );
    return 2;
  }
  return { r, checkpoint, file };
}

export async function runSample(args: SampleArgs): Promise<number> {
  // A run folder stands for the checkpoint it holds, for the target and the draft alike.
  args = {
    ...args,
    target: checkpointPath(args.target) ?? args.target,
    ...(args.draft !== undefined ? { draft: checkpointPath(args.draft) ?? args.draft } : {}),
  };
  const isCheckpoint = args.target.endsWith('.safetensors');
  const loaded = await loadTarget(args.target, args.draft ? args.lookahead : undefined);
  if (typeof loaded === 'number') return loaded;
  const { r, checkpoint } = loaded;
  const { data } = r.models[0]!;
  if (args.fill !== undefined) {
    try {
      return await runFill(r.models[0]!, {
        text: args.fill,
        topK: args.topK > 0 ? args.topK : 5,
        json: args.json ?? false,
        checkpoint,
        source: isCheckpoint ? `checkpoint '${args.target}'` : `spec ${args.target}`,
        seed: args.seed,
      });
    } catch (e) {
      return fail(e);
    }
  }
  // An encoder sees the whole sequence at once: it fills masks, it does not continue text.
  if (r.models[0]!.model.spec.arch === 'encoder') {
    process.stderr.write(
      `error: ${data.name} is an encoder (bidirectional attention): it does not continue text left to right; ` +
        `fill masked tokens with --fill "Call me [MASK]shmael."\n`,
    );
    return 2;
  }
  // An encoder–decoder answers a source; a decoder continues a prompt. Each refuses the other's option.
  const seq2seq = data.plans.encode !== undefined;
  if (args.input !== undefined && !seq2seq) {
    process.stderr.write(
      `error: --input gives an encoder–decoder its source, but ${data.name} is decoder-only; continue text with --prompt "…"\n`,
    );
    return 2;
  }
  if (seq2seq && args.input === undefined) {
    const why = args.prompt ? '--prompt continues text, which an encoder–decoder does not do' : 'it has nothing to decode from';
    process.stderr.write(`error: ${data.name} is an encoder–decoder: give it a source with --input "…" (${why})\n`);
    return 2;
  }
  let rt: ModelRuntime | undefined;
  let draft: ModelRuntime | undefined;
  try {
    rt = await ModelRuntime.create(data);
    if (args.draft !== undefined) {
      if (seq2seq) {
        process.stderr.write(`error: --draft needs a decoder-only target; ${data.name} is an encoder–decoder\n`);
        return 2;
      }
      const d = await loadTarget(args.draft, undefined);
      if (typeof d === 'number') return d;
      draft = await ModelRuntime.create(d.r.models[0]!.data, { gpu: rt.gpu });
      if (d.checkpoint) draft.setWeights(d.checkpoint, `checkpoint '${args.draft}'`);
      else draft.init(args.seed);
      const why = draftMismatch(rt, draft);
      if (why) {
        process.stderr.write(`error: ${why}\n`);
        return 2;
      }
    }
    if (checkpoint) rt.setWeights(checkpoint, `checkpoint '${args.target}'`);
    else {
      rt.init(args.seed);
      process.stderr.write(
        `note: ${data.name} has untrained weights (initialised from seed ${args.seed}); sample a checkpoint for real text\n`,
      );
    }
    const opts = {
      maxTokens: args.maxTokens,
      temperature: args.temperature,
      topK: args.topK,
      topP: args.topP,
      seed: args.seed,
      stop: args.stop,
      onContextFull: args.slide ? ('slide' as const) : ('error' as const),
      ...(args.chunk !== undefined ? { chunk: args.chunk } : {}),
      ...(args.hostSampling ? { sampleOn: 'host' as const } : {}),
    };
    if (args.input !== undefined) {
      // Encoded once; the output is the decoder's, up to its end-of-sequence token.
      rt.encode(args.input);
      for await (const piece of rt.generateTextFrom(args.input, opts)) process.stdout.write(piece);
      process.stdout.write('\n');
      return 0;
    }
    // A prompt the tokenizer cannot encode fails before anything is printed; so does one that
    // encodes to nothing (an empty --prompt, with a tokenizer that adds no start token).
    const promptTokens = rt.encode(args.prompt).length;
    if (promptTokens === 0) {
      process.stderr.write(
        `error: ${args.prompt ? `the prompt ${JSON.stringify(args.prompt)} encodes to no tokens` : 'no prompt'}: ` +
          `${data.name}'s tokenizer adds no start token, so decoding needs text to continue; give it with --prompt "…"\n`,
      );
      return 2;
    }
    if (promptTokens > data.context) {
      process.stderr.write(
        `error: the prompt is ${promptTokens} tokens but ${data.name}'s context window is ${data.context}; give a prompt of at most ${data.context} tokens\n`,
      );
      return 2;
    }
    if (draft) return await speculative(rt, draft, args, opts);
    process.stdout.write(args.prompt);
    for await (const piece of rt.generateText(args.prompt, opts)) process.stdout.write(piece);
    process.stdout.write('\n');
    return 0;
  } catch (e) {
    process.stdout.write('\n');
    return fail(e);
  } finally {
    draft?.release();
    rt?.release();
  }
}

/**
 * --draft: the speculative text, then the acceptance rate and the speed-up over the target's
 * own decoding of as many tokens (measured right after, same seed), on stderr or with --json.
 */
async function speculative(rt: ModelRuntime, draft: ModelRuntime, args: SampleArgs, opts: GenerateOptions): Promise<number> {
  let stats: SpeculativeStats | undefined;
  const lookahead = args.lookahead ?? 4;
  // Warm up both paths (a software adapter compiles pipelines on first dispatch) so the timings compare decoding only.
  const ids = rt.encode(args.prompt);
  const warm = Math.max(1, Math.min(2 * lookahead + 2, rt.data.context - ids.length - 1));
  for await (const id of rt.generate(ids, { ...opts, maxTokens: warm, stop: [], draft, lookahead })) void id;
  for await (const id of rt.generate(ids, { ...opts, maxTokens: warm, stop: [] })) void id;
  let t0 = performance.now();
  let text = '';
  if (!args.json) process.stdout.write(args.prompt);
  for await (const piece of rt.generateText(args.prompt, { ...opts, draft, lookahead, onStats: (s) => (stats = s) })) {
    if (!args.json) process.stdout.write(piece);
    text += piece;
  }
  const specMs = performance.now() - t0;
  const produced = stats?.produced ?? 0;
  t0 = performance.now();
  for await (const piece of rt.generateText(args.prompt, { ...opts, maxTokens: Math.max(1, produced), stop: [] })) void piece;
  const plainMs = performance.now() - t0;
  const acceptance = stats && stats.proposed ? stats.accepted / stats.proposed : 0;
  const speedup = plainMs / specMs;
  const summary = {
    ...stats,
    acceptance,
    speculativeTokensPerS: (1000 * produced) / specMs,
    targetTokensPerS: (1000 * produced) / plainMs,
    speedup,
  };
  if (args.json) process.stdout.write(JSON.stringify({ text: args.prompt + text, ...summary }) + '\n');
  else {
    process.stdout.write('\n');
    process.stderr.write(
      `speculative: lookahead ${summary.lookahead}, acceptance ${(100 * acceptance).toFixed(1)}% (${stats?.accepted ?? 0}/${stats?.proposed ?? 0}), ` +
        `${summary.speculativeTokensPerS.toFixed(0)} tokens/s vs ${summary.targetTokensPerS.toFixed(0)} for the target alone: speed-up ${speedup.toFixed(2)}x\n`,
    );
  }
  return 0;
}

function fail(e: unknown): number {
  if (isUserError(e)) {
    process.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
  throw e;
}
