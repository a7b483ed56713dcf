/**
 * `mspec eval CKPT [--data FILE] [--seq-len T] [--stride S] [--batch B] [--json]`: the loss,
 * perplexity and bits per byte of a checkpoint on a text, measured over the whole text.
 *
 * Windows of T tokens start every S tokens and each scores only the tokens no earlier window
 * scored (runtime/eval/windows.ts), so every token but the first is scored exactly once; B
 * windows run per GPU pass through the forward plan, whose fused cross-entropy kernel gives
 * each position's −ln p (runtime/eval/perplexity.ts); the sum is kept in float64.
 *   loss = Σ nll / tokens scored (nats/token), perplexity = e^loss,
 *   bits per byte = Σ nll / ln 2 / UTF-8 bytes of the scored text.
 */
import { isUserError } from '../../runtime/user-error.js';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { checkTokenIds } from '../../runtime/data/source.js';
import { acquireDevice } from '../../runtime/device.js';
import { WindowEvaluator, type EvalProgress } from '../../runtime/eval/perplexity.js';
import { scoredBytes } from '../../runtime/eval/text.js';
import { scoringWindows } from '../../runtime/eval/windows.js';
import { tokenizerFrom, type TokenizerData } from '../../runtime/tokenizers/index.js';
import { checkpointSpec } from './checkpoint-spec.js';
import { EvalError, readEvalData, readValidationSplit, type EvalText } from './eval-data.js';

export interface EvalArgs {
  checkpoint: string;
  data?: string | undefined;
  seqLen?: number | undefined;
  stride?: number | undefined;
  batch?: number | undefined;
  json: boolean;
}

/** The default batch keeps the logits of one pass within this many bytes (and at most 8 windows). */
const LOGITS_BUDGET = 64 * 2 ** 20;

export async function runEval(args: EvalArgs): Promise<number> {
  try {
    return await evaluate(args);
  } catch (e) {
    if (e instanceof EvalError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    if (isUserError(e)) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function evaluate(args: EvalArgs): Promise<number> {
  // ── the checkpoint and the model it carries ──
  let path = args.checkpoint;
  if (existsSync(path) && statSync(path).isDirectory()) {
    if (!existsSync(join(path, 'last.safetensors')))
      throw new EvalError(
        `'${path}' is a folder without a last.safetensors; name a checkpoint written by mspec train (a .safetensors file or its run folder)`,
      );
    path = join(path, 'last.safetensors');
  }
  const ckpt = readSafetensors(path);
  const { model, sources, tokenizer: stored, host } = checkpointSpec(path, ckpt.metadata);
  // A text given with --data is read before the compiler is even loaded: bad input fails fast.
  let text: EvalText | undefined = args.data !== undefined && stored ? readEvalData(args.data, tokenizerFrom(stored)) : undefined;

  const [{ compileFile }, { compileForGpu }, { planModel }, { printDiagnostics }] = await Promise.all([
    import('../index.js'),
    import('../schedule/compile-model.js'),
    import('../schedule/plan.js'),
    import('./output.js'),
  ]);
  const compiled = compileFile(sources.entry, { model, host });
  printDiagnostics(compiled.diagnostics, compiled.sources);
  const m = compiled.models[0];
  if (!m?.ok || !m.graph) return 1;
  const spec = m.spec;
  // Perplexity here is next-token prediction: an encoder never saw the next token (it sees the
  // whole window), so its number would look valid and mean nothing.
  if (spec.arch !== 'decoder')
    throw new EvalError(
      `'${path}' holds ${spec.arch === 'encoder' ? 'an encoder' : 'an encoder–decoder'} (model ${spec.name}); mspec eval measures next-token perplexity of decoder-only models. ` +
        (spec.arch === 'encoder'
          ? 'A masked-LM run reports masked-token loss, perplexity and accuracy at every evaluation of mspec train (metrics.jsonl); try mspec sample --fill for predictions'
          : 'An encoder–decoder run reports its validation loss and exact match at every evaluation of mspec train (metrics.jsonl); try mspec sample --input'),
    );
  const tok = tokenizerFrom(stored ?? defaultTokenizer(spec.train?.tokenizer, spec.vocab_raw, spec.name));

  // ── the text ──
  text ??=
    args.data !== undefined ? readEvalData(args.data, tok) : readValidationSplit(path, model, sources.entry, spec.train ?? undefined, tok);
  const n = text.tokens.length;
  if (n === 0) throw new EvalError(`${text.label} is empty: there is nothing to evaluate`);
  if (n < 2)
    throw new EvalError(`${text.label} is a single ${tok.kind} token; perplexity needs at least 2 (the first token is only context)`);
  checkTokenIds(
    text.tokens,
    spec.vocab_raw,
    text.label,
    `the model's vocabulary is ${spec.vocab_raw}${spec.vocab_raw !== spec.vocab ? ` (padded to ${spec.vocab})` : ''}; evaluate text tokenised with the checkpoint's ${tok.kind} tokenizer`,
  );

  // ── windows ──
  const trainedT = spec.train?.seq_len ?? spec.context;
  const T = args.seqLen ?? trainedT;
  if (T > spec.context) throw new EvalError(`--seq-len ${T} exceeds the context of model ${spec.name} (${spec.context})`, 2);
  const stride = args.stride ?? T;
  if (stride > T)
    throw new EvalError(
      `--stride ${stride} exceeds the window length ${T}: windows that far apart would skip tokens; use a stride of at most ${T}`,
      2,
    );
  const windows = scoringWindows(n, T, stride);
  const B = Math.min(args.batch ?? Math.min(8, Math.max(1, Math.floor(LOGITS_BUDGET / (T * spec.vocab * 4)))), windows.length);

  // ── the GPU ──
  const gpu = await acquireDevice({ limits: { maxStorageBufferBindingSize: 'max', maxBufferSize: 'max' } });
  let evaluator: WindowEvaluator | undefined;
  try {
    const sg = gpu.subgroupMinSize;
    const gm = compileForGpu(spec, m.graph, sources, { tuning: gpu.adapterClass, subgroupMinSize: sg, tokenizer: tok.toJSON() });
    if (!gm.data) {
      printDiagnostics(gm.diagnostics, compiled.sources);
      return 1;
    }
    const plan = planModel(spec, m.graph, { mode: 'forward', B, T, tuning: gpu.adapterClass, subgroupMinSize: sg });
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize ?? Infinity, gpu.limits.maxBufferSize ?? Infinity);
    const big = plan.buffers.find((b) => b.bytes > limit);
    if (big) {
      const fit = Math.floor((B * limit) / big.bytes);
      throw new EvalError(
        `a batch of ${B} windows × ${T} tokens needs the buffer '${big.name}' of ${big.bytes} bytes, over this device's limit of ${limit}; ${fit >= 1 ? `use --batch ${fit} or less` : 'use a shorter --seq-len'}`,
      );
    }
    evaluator = await WindowEvaluator.create(gpu, plan, gm.data.params);
    evaluator.setWeights(ckpt, `checkpoint '${path}'`);
    const t0 = performance.now();
    const r = await evaluator.score(text.tokens, windows, progressReporter(t0));
    const seconds = (performance.now() - t0) / 1000;
    const bytes = scoredBytes(tok, text.tokens);
    const loss = r.nll / r.tokens;
    const result = {
      checkpoint: path,
      model: spec.name,
      step: ckpt.metadata['mspec.step'] !== undefined ? Number(ckpt.metadata['mspec.step']) : null,
      data: text.label,
      split: text.split,
      tokenizer: tok.kind,
      seq_len: T,
      stride,
      batch: B,
      windows: r.windows,
      tokens: r.tokens,
      bytes,
      nll: r.nll,
      loss,
      perplexity: Math.exp(loss),
      bits_per_token: loss / Math.LN2,
      bits_per_byte: r.nll / Math.LN2 / bytes,
      seconds: +seconds.toFixed(3),
      tokens_per_s: Math.round(r.tokens / Math.max(seconds, 1e-9)),
    };
    if (args.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      const int = (x: number) => x.toLocaleString('en-US');
      process.stdout.write(
        `${spec.name}${result.step !== null ? ` (step ${result.step})` : ''} on ${text.label}: ${int(r.tokens)} ${tok.kind} tokens scored, ${int(bytes)} bytes\n` +
          `  loss        ${loss.toFixed(5)} nats/token\n` +
          `  perplexity  ${result.perplexity.toFixed(4)}\n` +
          `  bits/token  ${result.bits_per_token.toFixed(5)}\n` +
          `  bits/byte   ${result.bits_per_byte.toFixed(5)}\n` +
          `  ${int(r.windows)} window${r.windows === 1 ? '' : 's'} of ${T} tokens, stride ${stride}, ${B} per pass; ${seconds.toFixed(1)} s (${int(result.tokens_per_s)} tokens/s)\n`,
      );
    }
    return 0;
  } finally {
    evaluator?.release();
    gpu.release();
  }
}

function defaultTokenizer(kind: string | undefined, vocab: number, name: string): TokenizerData {
  if (kind === 'byte' || kind === 'gpt2') return { kind };
  if (kind === 'char')
    throw new EvalError(
      `the checkpoint of ${name} has no stored character vocabulary (mspec.tokenizer), so its char tokens cannot be rebuilt; evaluate a checkpoint written by mspec train`,
    );
  if (vocab >= 256) return { kind: 'byte' };
  throw new EvalError(
    `the checkpoint of ${name} names no tokenizer and its vocab (${vocab}) is too small for bytes; evaluate a checkpoint written by mspec train`,
  );
}

/**
 * A line on stderr every few seconds, only on a terminal (the GPU child's stderr is a
 * line-filtered pipe, so no \r bars). The rate leaves out the first pass, which includes
 * compiling the shaders.
 */
function progressReporter(t0: number): ((p: EvalProgress) => void) | undefined {
  if (!(process.stderr.isTTY || process.env.MSPEC_STDERR_TTY === '1')) return undefined;
  let last = t0;
  let first: { at: number; scored: number } | null = null;
  return ({ scored, total }) => {
    const now = performance.now();
    if (!first) {
      first = { at: now, scored };
      return;
    }
    if (now - last < 2000 || scored === total) return;
    last = now;
    const rate = (scored - first.scored) / Math.max((now - first.at) / 1000, 1e-3);
    const int = (x: number) => Math.round(x).toLocaleString('en-US');
    process.stderr.write(
      `eval: ${int(scored)}/${int(total)} tokens (${((100 * scored) / total).toFixed(0)}%), ${int(rate)} tokens/s, about ${int((total - scored) / rate)} s left\n`,
    );
  };
}
