/**
 * `mspec sample SPEC|CHECKPOINT --prompt ...`: compiles the model for this machine's WebGPU
 * adapter, takes weights from the checkpoint (or a seeded init for a bare spec), runs the
 * prompt through one prefill pass and streams tokens from the KV-cached decode loop. An
 * encoder–decoder takes `--input SOURCE` instead: the source is encoded once, and the decoder
 * runs from its start token with its KV cache and the kept cross-attention K/V until its
 * end-of-sequence token.
 */
import { readSafetensors, CheckpointError } from '../../runtime/checkpoint/safetensors.js';
import { ModelError, ModelRuntime } from '../../runtime/model-runtime.js';
import { TokenizerError, type TokenizerData } from '../../runtime/tokenizers/index.js';
import { GpuUnavailableError } from '../../runtime/device.js';
import type { Host } from '../semantics/resolve.js';
import { checkpointSpec } from './checkpoint-spec.js';
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
}

export async function runSample(args: SampleArgs): Promise<number> {
  const isCheckpoint = args.target.endsWith('.safetensors');
  let compileTarget = args.target;
  let host: Host | undefined;
  let modelName: string | undefined;
  let checkpoint: ReturnType<typeof readSafetensors> | undefined;
  let tokenizer: TokenizerData | undefined;
  try {
    if (isCheckpoint) {
      checkpoint = readSafetensors(args.target);
      // The checkpoint's own spec and tokenizer (a char vocabulary from its corpus) win over the disk's.
      const carried = checkpointSpec(args.target, checkpoint.metadata);
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
  try {
    rt = await ModelRuntime.create(data);
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
    };
    if (args.input !== undefined) {
      // Encoded once; the output is the decoder's, up to its end-of-sequence token.
      rt.encode(args.input);
      for await (const piece of rt.generateTextFrom(args.input, opts)) process.stdout.write(piece);
      process.stdout.write('\n');
      return 0;
    }
    rt.encode(args.prompt); // a prompt the tokenizer cannot encode fails before anything is printed
    process.stdout.write(args.prompt);
    for await (const piece of rt.generateText(args.prompt, opts)) process.stdout.write(piece);
    process.stdout.write('\n');
    return 0;
  } catch (e) {
    process.stdout.write('\n');
    return fail(e);
  } finally {
    rt?.release();
  }
}

function fail(e: unknown): number {
  if (e instanceof CheckpointError || e instanceof ModelError || e instanceof TokenizerError || e instanceof GpuUnavailableError) {
    process.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
  throw e;
}
