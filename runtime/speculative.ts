/**
 * Speculative decoding (Leviathan et al. 2023, "Fast Inference from Transformers via
 * Speculative Decoding"; Chen et al. 2023, "Accelerating LLM Decoding with Speculative
 * Sampling"). Each round the draft proposes k tokens d1..dk, sampling on the device in one
 * submission (a DecodeChain keeps each step's logits); the target scores all k + 1 positions in
 * one pass of its verify plan (a decode plan of lookahead + 1 rows at Step.offset, attending over
 * its KV cache); then, with p the target's and q the draft's distributions after the sampling
 * options (runtime/sample.ts sampleDistribution):
 *
 *   accept d_j with probability min(1, p(d_j) / q(d_j))  (u from the 'accept' stream at its position);
 *   at the first rejection draw from norm(max(0, p − q))  ('residual' stream) and end the round;
 *   if all k are accepted, draw one more from the target's last row ('sample' stream).
 *
 * The output is then distributed exactly as the target's own samples (greedy: it is the
 * target's greedy output). Rolling back a cache is resetting its valid length: a later pass
 * writes its rows before any query reads them, so entries past a rejection are never read.
 */
import type { DecodeChain } from './decode-chain.js';
import type { GpuContext } from './device.js';
import { ModelError } from './model-error.js';
import type { PlanRunner } from './plan-runner.js';
import type { KernelPlan } from './plan-types.js';
import type { Tokenizer, TokenizerData } from './tokenizers/index.js';
import { drawFrom, SAMPLE_STREAMS, sampleAt, sampleDistribution, sampleUniform, type SampleOptions } from './sample.js';

export interface SpeculativeStats {
  /** Verify passes run. */
  readonly rounds: number;
  /** Draft tokens proposed and accepted. */
  readonly proposed: number;
  readonly accepted: number;
  /** Tokens produced (accepted + one per round from the target, truncated at maxTokens or a stop). */
  readonly produced: number;
  readonly lookahead: number;
}

/** What speculative decoding uses of a ModelRuntime (a structural type: model-runtime.ts imports this file). */
export interface SpecModel {
  readonly gpu: GpuContext;
  readonly tokenizer: Tokenizer | null;
  readonly data: {
    readonly name: string;
    readonly vocab: number;
    readonly context: number;
    readonly tokenizer: TokenizerData | null;
    readonly plans: { readonly decode: KernelPlan };
  };
  deviceChain(): DecodeChain | null;
  verifyRunner(): Promise<PlanRunner | null>;
  decodeStep(token: number, pos: number): Promise<Float32Array>;
}

export interface SpeculateOptions extends SampleOptions {
  readonly maxTokens: number;
  readonly seed?: number;
  readonly stop?: readonly string[];
  readonly lookahead?: number;
  readonly onStats?: (stats: SpeculativeStats) => void;
}

/** Why this draft cannot serve this target, or null. */
export function draftMismatch(target: SpecModel, draft: SpecModel): string | null {
  const t = target.data;
  const d = draft.data;
  const raw = (m: SpecModel['data']) => m.plans.decode.vocabRaw ?? m.vocab;
  if (raw(t) !== raw(d) || t.vocab !== d.vocab)
    return `the draft '${d.name}' has a vocabulary of ${raw(d)} (row ${d.vocab}) but the target '${t.name}' has ${raw(t)} (row ${t.vocab}); a draft must share the target's tokenizer and vocabulary`;
  if (JSON.stringify(t.tokenizer) !== JSON.stringify(d.tokenizer))
    return `the draft '${d.name}' has another tokenizer than the target '${t.name}'; a draft must share the target's tokenizer and vocabulary`;
  if (d.context > t.context)
    return `the draft '${d.name}' has a context of ${d.context} tokens, larger than the target '${t.name}''s ${t.context}; use a draft whose context is at most the target's`;
  if (draft.gpu.device !== target.gpu.device)
    return `the draft '${d.name}' must be created on the target's device (ModelRuntime.create(data, { gpu: target.gpu }))`;
  return null;
}

export async function* speculate(
  target: SpecModel,
  draft: SpecModel,
  prompt: readonly number[],
  opts: SpeculateOptions,
): AsyncGenerator<number> {
  const why = draftMismatch(target, draft);
  if (why) throw new ModelError(why);
  const k0 = opts.lookahead ?? 4;
  const verify = await target.verifyRunner();
  const tChain = target.deviceChain();
  const dChain = draft.deviceChain();
  if (!verify || !tChain || !dChain)
    throw new ModelError(`model '${target.data.name}' was not compiled with a verify plan for speculative decoding (decoders only)`);
  const Tv = verify.plan.T;
  if (k0 + 1 > Tv)
    throw new ModelError(
      `lookahead ${k0} needs a verify plan of ${k0 + 1} rows but '${target.data.name}' was compiled for lookahead ${Tv - 1}; compile it with lookahead ${k0}`,
    );
  const seed = opts.seed ?? 0;
  const classes = target.data.plans.decode.vocabRaw ?? target.data.vocab;
  const V = target.data.vocab;
  const context = Math.min(target.data.context, draft.data.context);
  if (prompt.length === 0) throw new ModelError('the prompt is empty; give at least one token');
  if (prompt.length >= context) throw new ModelError(`the prompt has ${prompt.length} tokens but the context window is ${context}`);
  const stats = { rounds: 0, proposed: 0, accepted: 0, produced: 0, lookahead: k0 };
  const stopText = { text: '' };
  const stopped = (id: number): boolean => {
    if (!opts.stop?.length || !target.tokenizer) return false;
    stopText.text += target.tokenizer.decode([id]);
    return opts.stop.some((s) => stopText.text.includes(s));
  };
  try {
    // The first token: the target's own prefill and sample step; the draft's prefill fills its cache.
    const ctx = [...prompt];
    let enc = target.gpu.device.createCommandEncoder({ label: 'speculative:prefill' });
    tChain.configure(opts, seed, SAMPLE_STREAMS.sample, tChain.prefillAt(ctx.length));
    tChain.encodePrefill(enc, ctx);
    dChain.configure(opts, seed, SAMPLE_STREAMS.draft, dChain.prefillAt(ctx.length));
    dChain.encodePrefill(enc, ctx);
    tChain.submit(enc);
    const [first] = await tChain.sampled(ctx.length, 1, 1, false);
    ctx.push(first!);
    stats.produced++;
    yield first!;
    if (stopped(first!)) return;
    // The target's cache holds positions < ctx.length − 1 (the last token is pending); the draft's < draftValid.
    let draftValid = prompt.length;
    while (stats.produced < opts.maxTokens) {
      const L = ctx.length;
      const k = Math.min(k0, opts.maxTokens - stats.produced - 1, context - 1 - L);
      if (k < 1 || L - 1 + Tv > target.data.context) {
        // Too close to the end (of the request or the context) for a round: one plain target step.
        if (L >= context)
          throw new ModelError(`reached the context window of ${context} tokens after ${stats.produced} new tokens; ask for fewer tokens`);
        const logits = await target.decodeStep(ctx[L - 1]!, L - 1);
        const id = sampleAt(logits, opts, { seed, pos: L }, classes);
        ctx.push(id);
        stats.produced++;
        yield id;
        if (stopped(id)) return;
        continue;
      }
      // The draft: catch up on host tokens, then k device-sampled proposals (their logits kept).
      enc = draft.gpu.device.createCommandEncoder({ label: 'speculative:draft' });
      const steps = [];
      for (let p = draftValid; p < L; p++) steps.push({ pos: p, token: ctx[p]!, keepLogits: p === L - 1 });
      for (let j = 1; j < k; j++) steps.push({ pos: L - 1 + j, keepLogits: true });
      dChain.encodeSteps(enc, steps);
      dChain.submit(enc);
      const [proposal, qLogits] = await Promise.all([dChain.sampled(L, k, steps.length), dChain.keptLogits(k)]);
      draftValid = L + k - 1;
      // The target: one pass over [x_{L−1}, d1..dk] at offset L − 1 (rows past k + 1 are padding).
      const ids = new Int32Array(Tv);
      ids.set([ctx[L - 1]!, ...proposal]);
      verify.write(verify.plan.io.tokens, ids);
      verify.setStep(L - 1, L + k);
      verify.run(L - 1);
      const pLogits = await verify.readF32(verify.plan.io.logits, 0, (k + 1) * V);
      stats.rounds++;
      stats.proposed += k;
      // Modified rejection sampling, position by position.
      const row = (m: Float32Array, j: number) => m.subarray(j * V, (j + 1) * V);
      const out: number[] = [];
      let rejected = false;
      for (let j = 0; j < k; j++) {
        const pos = L + j;
        const d = proposal[j]!;
        const p = sampleDistribution(row(pLogits, j), opts, classes);
        const q = sampleDistribution(row(qLogits, j), opts, classes);
        if (q[d]! > 0 && sampleUniform(seed, pos, SAMPLE_STREAMS.accept) < p[d]! / q[d]!) {
          out.push(d);
          continue;
        }
        const residual = p.map((pi, i) => Math.max(0, pi - q[i]!));
        // p ≤ q everywhere only when p = q (up to rounding): then the residual is p itself.
        out.push(drawFrom(residual.some((r) => r > 0) ? residual : p, sampleUniform(seed, pos, SAMPLE_STREAMS.residual)));
        rejected = true;
        break;
      }
      stats.accepted += rejected ? out.length - 1 : out.length;
      if (!rejected) out.push(sampleAt(row(pLogits, k), opts, { seed, pos: L + k }, classes));
      // Roll back: the draft's cache is valid up to the last accepted token it was fed.
      draftValid = Math.min(draftValid, L + out.length - 1);
      for (const id of out) {
        if (stats.produced >= opts.maxTokens) return;
        ctx.push(id);
        stats.produced++;
        yield id;
        if (stopped(id)) return;
      }
    }
  } finally {
    opts.onStats?.(stats);
  }
}
