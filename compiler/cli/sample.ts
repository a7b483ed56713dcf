/**
 * `mspec sample SPEC|CHECKPOINT --prompt ...`: compiles the model for this machine's WebGPU
 * adapter, takes weights from the checkpoint (or a seeded init for a bare spec), runs the
 * prompt through one prefill pass and streams tokens from the KV-cached decode loop.
 */
import { readSafetensors, CheckpointError } from '../../runtime/checkpoint/safetensors.js';
import { ModelError, ModelRuntime } from '../../runtime/model-runtime.js';
import { TokenizerError, type TokenizerData } from '../../runtime/tokenizers/index.js';
import { GpuUnavailableError } from '../../runtime/device.js';
import type { SpecSources } from '../codegen/compile-model.js';
import { compileGpu, memoryHost } from './gpu-model.js';
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
}

export async function runSample(args: SampleArgs): Promise<number> {
  const isCheckpoint = args.target.endsWith('.safetensors');
  let compileTarget = args.target;
  let host: ReturnType<typeof memoryHost> | undefined;
  let modelName: string | undefined;
  let checkpoint: ReturnType<typeof readSafetensors> | undefined;
  let tokenizer: TokenizerData | undefined;
  try {
    if (isCheckpoint) {
      checkpoint = readSafetensors(args.target);
      const raw = checkpoint.metadata['mspec.spec'];
      modelName = checkpoint.metadata['mspec.model'];
      if (!raw || !modelName) throw new CheckpointError(`'${args.target}' carries no mspec spec in its metadata; sample it with its spec instead: mspec sample SPEC.model --weights ${args.target}`);
      const sources = JSON.parse(raw) as SpecSources;
      // The checkpoint's own tokenizer (a char vocabulary from its corpus) wins over recomputing it.
      if (checkpoint.metadata['mspec.tokenizer']) tokenizer = JSON.parse(checkpoint.metadata['mspec.tokenizer']) as TokenizerData;
      host = memoryHost(sources.files);
      compileTarget = sources.entry;
    }
  } catch (e) {
    return fail(e);
  }
  const { file, model } = isCheckpoint ? { file: compileTarget, model: modelName } : splitTarget(compileTarget);
  const tuning = await detectTuning();
  const r = compileGpu(file, { model, tuning: tuning.tuning, subgroupMinSize: tuning.subgroupMinSize, ...(host ? { host } : {}), ...(tokenizer ? { tokenizer } : {}) });
  printDiagnostics(r.diagnostics, r.sources);
  if (r.diagnostics.some((d) => d.severity === 'error')) return 1;
  if (r.models.length !== 1) {
    process.stderr.write(`error MS5002: ${file} defines ${r.models.length} models; pick one with ${file}#${r.models[0]?.data.name ?? 'name'}\n`);
    return 2;
  }
  const { data } = r.models[0]!;
  let rt: ModelRuntime | undefined;
  try {
    rt = await ModelRuntime.create(data);
    if (checkpoint) rt.setWeights(checkpoint, `checkpoint '${args.target}'`);
    else {
      rt.init(args.seed);
      process.stderr.write(`note: ${data.name} has untrained weights (initialised from seed ${args.seed}); sample a checkpoint for real text\n`);
    }
    const tok = rt.tokenizer;
    if (!tok) throw new ModelError(`model ${data.name} has no tokenizer (vocab ${data.vocab} < 256 and no train section naming one)`);
    const prompt = tok.encode(args.prompt);
    process.stdout.write(args.prompt);
    const out: number[] = [];
    let printed = '';
    for await (const id of rt.generate(prompt, { maxTokens: args.maxTokens, temperature: args.temperature, topK: args.topK, topP: args.topP, seed: args.seed, stop: args.stop, onContextFull: args.slide ? 'slide' : 'error' })) {
      out.push(id);
      const text = tok.decode(out);
      // Byte-level output may end inside a multi-byte character: print only what is complete.
      const complete = text.endsWith('\uFFFD') ? text.slice(0, text.lastIndexOf('\uFFFD')) : text;
      if (complete.length > printed.length) {
        process.stdout.write(complete.slice(printed.length));
        printed = complete;
      }
    }
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
