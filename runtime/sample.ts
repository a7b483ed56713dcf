/**
 * Choosing the next token from logits on the host: temperature, top-k, then top-p (nucleus),
 * then a draw from a seeded RNG, so the same seed gives the same text. Temperature 0 is
 * greedy (argmax). The vocabulary of the models this runs is small enough that reading one
 * row of logits back per token costs far less than the forward pass that made it. A row padded
 * to vocab_multiple holds logits for ids that are no tokens: only the first `classes` ids are
 * candidates, whatever the padding holds.
 */
import { makeRng, type Rng } from './random.js';

export interface SampleOptions {
  /** > 0 scales logits; 0 = greedy. Default 1. */
  readonly temperature?: number;
  /** Keep the k most likely tokens (0 = all). */
  readonly topK?: number;
  /** Keep the smallest set whose probability reaches p (1 = all). */
  readonly topP?: number;
}

export function sampler(seed: number): Rng {
  return makeRng(seed);
}

/** `classes`: the real vocabulary (ids >= it are padding and never drawn); default the whole row. */
export function sampleToken(logits: Float32Array, opts: SampleOptions, rng: Rng, classes = logits.length): number {
  const t = opts.temperature ?? 1;
  if (!(Number.isInteger(classes) && classes >= 1 && classes <= logits.length))
    throw new RangeError(`sampleToken: classes must be an integer in [1, ${logits.length}], got ${classes}`);
  const V = classes;
  if (t <= 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  // Candidates sorted by logit, highest first (ties: lower id first, for determinism).
  let ids = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const k = opts.topK ?? 0;
  if (k > 0 && k < V) ids = ids.slice(0, k);
  const max = logits[ids[0]!]! / t;
  let probs = ids.map((i) => Math.exp(logits[i]! / t - max));
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  const p = opts.topP ?? 1;
  if (p < 1) {
    let acc = 0;
    let n = 0;
    while (n < probs.length && acc < p) acc += probs[n++]!;
    ids = ids.slice(0, Math.max(1, n));
    probs = probs.slice(0, ids.length);
    sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((q) => q / sum);
  }
  let r = rng.uniform();
  for (let i = 0; i < ids.length; i++) {
    r -= probs[i]!;
    if (r < 0) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}
