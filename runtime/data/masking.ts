/**
 * Masked-LM batches (BERT's masking rule), a pure function of (seed, stream, counter): no
 * state to save, so a resumed run redraws exactly the masks the uninterrupted one would.
 *
 * An encoder sees the whole window: inputs and targets are the SAME positions (no shift).
 * In each row of T tokens, m = max(1, round(maskProb · T)) positions are chosen; each chosen
 * position becomes [MASK] with probability 0.8, a random ordinary token (never a special)
 * with 0.1, and stays unchanged with 0.1; its target is the original token. Every other
 * target is −1, which the loss ignores (the softmax-xent kernel and the interpreter average
 * over the counted rows only), so the loss is the masked-token loss.
 *
 * The randomness is the counter-based hash dropout uses (runtime/counter-rng.ts), keyed by
 * key = dropoutKey(seed, counter, stream), with element index i = b·T + t of the batch:
 *   choice:      the m positions of the row with the smallest (bits(key, 3i), t)
 *   action:      bits(key, 3i + 1) < 0.8·2³² → mask; < 0.9·2³² → random; else unchanged
 *   replacement: bits(key, 3i + 2) mod ordinary (bias below ordinary / 2³², negligible)
 * Training uses stream MLM_TRAIN_STREAM and the micro-batch counter (the BatchSampler's step);
 * evaluation MLM_EVAL_STREAM and the validation batch's index, so every evaluation scores the
 * same masked positions. scripts/reference/train_mlm.py implements the same rule.
 */
import { dropoutBits, dropoutKey, dropoutStream } from '../counter-rng.js';
import type { BatchSampler } from './batches.js';
import { DataError } from './source.js';

export const MLM_TRAIN_STREAM = dropoutStream('mlm.train');
export const MLM_EVAL_STREAM = dropoutStream('mlm.eval');
/** round(0.8 · 2³²) and round(0.9 · 2³²): the 80 / 10 / 10 split of the chosen positions. */
const MASK_BELOW = 3435973837;
const RANDOM_BELOW = 3865470566;

export interface MaskOptions {
  /** The fraction of each row's positions to predict, in (0, 1). */
  readonly maskProb: number;
  /** The [MASK] id. */
  readonly maskId: number;
  /** Random replacements are drawn from [0, ordinary). */
  readonly ordinary: number;
  readonly seed: number;
  readonly stream: number;
}

export interface MaskedBatch {
  /** B·T ids with the chosen positions replaced (mask / random / unchanged). */
  readonly inputs: Int32Array;
  /** B·T: the original token at chosen positions, −1 elsewhere. */
  readonly targets: Int32Array;
}

/** The number of positions chosen in a row of T tokens. */
export function maskedPerRow(T: number, maskProb: number): number {
  return Math.min(T, Math.max(1, Math.round(maskProb * T)));
}

/** Masks the rows of `tokens` (B rows of T: the windows themselves, unshifted) for micro-batch `counter`. */
export function maskBatch(tokens: Int32Array, T: number, o: MaskOptions, counter: number): MaskedBatch {
  if (!(o.maskProb > 0 && o.maskProb < 1)) throw new DataError(`mask_prob must be above 0 and below 1, got ${o.maskProb}`);
  if (tokens.length % T !== 0) throw new Error(`internal: ${tokens.length} tokens are not rows of ${T}`);
  if (!(Number.isInteger(o.ordinary) && o.ordinary > 0)) throw new Error(`internal: no ordinary tokens to draw from (${o.ordinary})`);
  const key = dropoutKey(o.seed, counter, o.stream);
  const m = maskedPerRow(T, o.maskProb);
  const inputs = Int32Array.from(tokens);
  const targets = new Int32Array(tokens.length).fill(-1);
  const order = new Float64Array(T);
  const idx = Array.from({ length: T }, (_, t) => t);
  for (let row = 0; row < tokens.length / T; row++) {
    const base = row * T;
    // bits · T + t orders by the bits, ties by position, exactly (below 2⁵³).
    for (let t = 0; t < T; t++) order[t] = dropoutBits(key, (3 * (base + t)) >>> 0) * T + t;
    idx.sort((a, b) => order[a]! - order[b]!);
    for (let k = 0; k < m; k++) {
      const i = base + idx[k]!;
      targets[i] = tokens[i]!;
      const action = dropoutBits(key, (3 * i + 1) >>> 0);
      if (action < MASK_BELOW) inputs[i] = o.maskId;
      else if (action < RANDOM_BELOW) inputs[i] = dropoutBits(key, (3 * i + 2) >>> 0) % o.ordinary;
    }
  }
  return { inputs, targets };
}

/** What a masked-LM run masks with: its tokenizer's [MASK] and ordinary ids, its mask_prob and seed. */
export function mlmMasking(
  tokenizer: { readonly mask: number | null; readonly ordinary: number; readonly kind: string },
  maskProb: number,
  seed: number,
): Omit<MaskOptions, 'stream'> {
  if (tokenizer.mask === null)
    throw new DataError(
      `the ${tokenizer.kind} tokenizer of this run has no [MASK] token, which objective = mlm needs; start the run again (a run or checkpoint made for causal_lm cannot be continued as a masked LM)`,
    );
  return { maskProb, maskId: tokenizer.mask, ordinary: tokenizer.ordinary, seed };
}

/** The validation batches of a masked LM: the same windows, each masked by its index (the same every evaluation). */
export function maskEvalBatches(batches: readonly { inputs: Int32Array }[], T: number, o: Omit<MaskOptions, 'stream'>): MaskedBatch[] {
  return batches.map((b, c) => maskBatch(b.inputs, T, { ...o, stream: MLM_EVAL_STREAM }, c));
}

/**
 * A masked LM's next training micro-batch: the sampler's window (unshifted), masked under the
 * sampler's step, the micro-batch counter. The counter is restored with the sampler on
 * --resume, so a resumed run draws exactly the masks of the uninterrupted one.
 */
export function nextMaskedBatch(sampler: BatchSampler, T: number, o: Omit<MaskOptions, 'stream'>): MaskedBatch {
  const counter = sampler.state.step;
  return maskBatch(sampler.next().inputs, T, { ...o, stream: MLM_TRAIN_STREAM }, counter);
}
