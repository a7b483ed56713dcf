/**
 * `mspec sample CKPT --fill "Call me [MASK]hmael."`: a masked LM's guesses for each `[MASK]`
 * of a text. The text is encoded with the checkpoint's tokenizer, `[MASK]` (the only special
 * spelling recognised, and only here: training text never produces a mask token) becoming
 * the mask id; one bidirectional forward pass over exactly those tokens (ModelRuntime.encoderForward:
 * the padding up to the context is never a key) gives the logits of every position, and each
 * masked position prints its most likely ordinary tokens with their probabilities (softmax
 * over the real vocabulary; specials are scored but never offered as a fill).
 */
import type { STFile } from '../../runtime/checkpoint/safetensors.js';
import { ModelError, ModelRuntime, type EncoderOutput } from '../../runtime/model-runtime.js';
import { MASK_TOKEN, tokenizerFrom } from '../../runtime/tokenizers/index.js';
import type { GpuModel } from './gpu-model.js';

export interface FillArgs {
  readonly text: string;
  /** Candidates per masked position. */
  readonly topK: number;
  readonly json: boolean;
  /** The checkpoint's tensors, or none: a bare spec's seeded init. */
  readonly checkpoint?: STFile | undefined;
  readonly source: string;
  readonly seed: number;
}

export interface Candidate {
  readonly id: number;
  readonly token: string;
  readonly p: number;
}

export interface FilledMask {
  /** The token position of this [MASK] in the encoded text. */
  readonly position: number;
  readonly candidates: readonly Candidate[];
}

/** Fills the masks of `args.text`; prints text (or JSON) and returns the exit code. ModelError/TokenizerError for a user's mistake. */
export async function runFill(m: GpuModel, args: FillArgs): Promise<number> {
  const { spec } = m.model;
  if (spec.arch !== 'encoder')
    throw new ModelError(
      `--fill needs a masked language model (arch = encoder, trained with objective = mlm), but ${spec.name} is ${spec.arch === 'decoder' ? 'a decoder: continue text with --prompt instead' : `arch = ${spec.arch}`}`,
    );
  if (!m.data.tokenizer) throw new ModelError(`model ${spec.name} records no tokenizer, so its text cannot be encoded`);
  const tokenizer = tokenizerFrom(m.data.tokenizer);
  if (tokenizer.mask === null)
    throw new ModelError(
      `the ${tokenizer.kind} tokenizer of ${args.source} has no ${MASK_TOKEN} token (it was not trained with objective = mlm), so there is nothing to fill`,
    );
  const ids = tokenizer.encodeSpecial(args.text);
  const masked = ids.flatMap((id, i) => (id === tokenizer.mask ? [i] : []));
  if (masked.length === 0)
    throw new ModelError(
      `the text has no ${MASK_TOKEN}: write ${MASK_TOKEN} where a token should be guessed, e.g. "Call me ${MASK_TOKEN}hmael."`,
    );
  if (ids.length > spec.context)
    throw new ModelError(
      `the text is ${ids.length} tokens long but ${spec.name}'s context is ${spec.context}; shorten it to at most ${spec.context} tokens`,
    );

  // The prefill plan, run over exactly the text's tokens (the context's padding is never a key).
  const rt = await ModelRuntime.create(m.data);
  let forward: EncoderOutput;
  try {
    if (args.checkpoint) rt.setWeights(args.checkpoint, args.source);
    else rt.init(args.seed);
    forward = await rt.encoderForward(ids);
  } finally {
    rt.release();
  }
  const V = m.data.vocab;
  const logits = masked.map((pos) => forward.logits!.subarray(pos * V, (pos + 1) * V));
  const classes = m.data.plans.prefill.vocabRaw ?? V;
  const fills: FilledMask[] = masked.map((position, j) => ({
    position,
    candidates: topCandidates(logits[j]!, classes, tokenizer.ordinary, args.topK).map((c) => ({ token: tokenizer.decode([c.id]), ...c })),
  }));
  // The text with each mask replaced by its best candidate.
  const best = ids.map((id, i) => (id === tokenizer.mask ? fills[masked.indexOf(i)]!.candidates[0]!.id : id));
  const filled = tokenizer.decode(best);
  if (args.json) {
    process.stdout.write(JSON.stringify({ model: spec.name, text: args.text, filled, masks: fills }, null, 2) + '\n');
    return 0;
  }
  const out: string[] = [];
  fills.forEach((f, j) => {
    out.push(`${MASK_TOKEN} ${j + 1} of ${fills.length} (token ${f.position}):`);
    for (const c of f.candidates) out.push(`  ${c.p.toFixed(4)}  ${JSON.stringify(c.token)}`);
  });
  out.push(`best: ${filled}`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

/**
 * The `k` most likely ordinary ids (< ordinary) under softmax over the first `classes` logits
 * (padding columns past the real vocabulary are no tokens), most likely first, ties by id.
 */
export function topCandidates(logits: Float32Array, classes: number, ordinary: number, k: number): { id: number; p: number }[] {
  let max = -Infinity;
  for (let i = 0; i < classes; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < classes; i++) sum += Math.exp(logits[i]! - max);
  const ids = Array.from({ length: Math.min(ordinary, classes) }, (_, i) => i);
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  return ids.slice(0, Math.max(1, k)).map((id) => ({ id, p: Math.exp(logits[id]! - max) / sum }));
}
