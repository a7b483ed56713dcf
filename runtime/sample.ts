/**
 * Choosing the next token from a row of logits: the one rule the GPU sample kernel
 * (compiler/codegen/wgsl/kernels/sample.ts) and this CPU reference both implement, so a seed
 * gives the same text on every adapter and on the host.
 *
 *  1. Candidates: the first `classes` ids (ids past the real vocabulary are vocab_multiple
 *     padding and never drawn, whatever their logits).
 *  2. Order: by logit, highest first; equal logits by lower id first. Temperature 0 (greedy)
 *     takes the first in this order: the argmax, lowest id on ties.
 *  3. top-k (k > 0): keep the first k in that order.
 *  4. Weights w = exp((logit − max) / temperature) over the kept ids (softmax(logits / t)).
 *  5. top-p (p < 1): keep the shortest prefix of the order whose weight reaches p · Σw.
 *  6. Draw: u ∈ [0, 1) from the counter-based hash of (seed, position, stream)
 *     (runtime/counter-rng.ts, the one dropout uses): r = u · Σ kept w, and the token is the
 *     first kept id, in id order, whose running sum of w exceeds r (the last kept id if
 *     rounding leaves none). Walking in id order, not sorted order, is what a GPU can do in
 *     one pass; the distribution is the same.
 *
 * The host sums in float64 and the kernel in float32 in another order, so a draw whose r lands
 * within rounding of a boundary (or a top-p prefix whose mass is within rounding of p) can
 * differ between the two; any other draw is the same id.
 */
import { dropoutBits, dropoutKey, dropoutStream } from './counter-rng.js';
import { makeRng, type Rng } from './random.js';

export interface SampleOptions {
  /** > 0 scales logits; 0 = greedy. Default 1. */
  readonly temperature?: number;
  /** Keep the k most likely tokens (0 = all). */
  readonly topK?: number;
  /** Keep the smallest set whose probability reaches p (1 = all). */
  readonly topP?: number;
}

/** The streams of the counter-based draws: plain sampling, a speculative draft's proposals, acceptance tests, residual draws. */
export const SAMPLE_STREAMS = {
  sample: dropoutStream('sample'),
  draft: dropoutStream('sample.draft'),
  accept: dropoutStream('sample.accept'),
  residual: dropoutStream('sample.residual'),
} as const;

/**
 * The stream of the draws in the `slides`-th window of a generation that slid its context
 * (onContextFull: 'slide'): positions restart after a slide, so each window draws from its own
 * stream — keyed by position alone, the same window contents would draw the same tokens again
 * and the text would loop. Window 0 is SAMPLE_STREAMS.sample.
 */
export function windowStream(slides: number): number {
  return slides === 0 ? SAMPLE_STREAMS.sample : dropoutStream(`sample.window.${slides}`);
}

/** The uniform in [0, 1) of the token at `pos` in `stream` under `seed`: the top 24 bits of the counter hash (exact in f32). */
export function sampleUniform(seed: number, pos: number, stream: number = SAMPLE_STREAMS.sample): number {
  return (dropoutBits(dropoutKey(seed, pos, stream), 0) >>> 8) / 16777216;
}

/** Checks the options as the CLI's ranges do; the runtime API gets the same one-line errors. */
export function checkSampleOptions(opts: SampleOptions): void {
  const t = opts.temperature ?? 1;
  if (!(t >= 0 && Number.isFinite(t))) throw new RangeError(`temperature must be a number >= 0, got ${t}`);
  const k = opts.topK ?? 0;
  if (!(Number.isInteger(k) && k >= 0 && k <= 0xffffffff)) throw new RangeError(`topK must be an integer >= 0, got ${k}`);
  const p = opts.topP ?? 1;
  if (!(p > 0 && p <= 1)) throw new RangeError(`topP must be in (0, 1], got ${p}`);
}

/**
 * The kept ids and their probabilities (the distribution the rule draws from), in id order:
 * `probs` has `classes` entries, zero outside the kept set. Greedy is one-hot.
 */
export function sampleDistribution(logits: Float32Array, opts: SampleOptions, classes = logits.length): Float64Array {
  const V = checkClasses(logits, classes);
  const t = opts.temperature ?? 1;
  const probs = new Float64Array(V);
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (t <= 0) {
    probs[order[0]!] = 1;
    return probs;
  }
  const k = opts.topK ?? 0;
  const kept = k > 0 && k < V ? order.slice(0, k) : order;
  const max = logits[kept[0]!]!;
  let total = 0;
  for (const i of kept) total += probs[i] = Math.exp((logits[i]! - max) / t);
  const p = opts.topP ?? 1;
  if (p < 1) {
    let acc = 0;
    let n = 0;
    while (n < kept.length && acc < p * total) acc += probs[kept[n++]!]!;
    for (const i of kept.slice(Math.max(1, n))) probs[i] = 0;
    total = acc;
  }
  for (const i of kept) probs[i] = probs[i]! / total;
  return probs;
}

/** The rule's draw from a distribution (id order, running sum) for the uniform u. */
export function drawFrom(probs: ArrayLike<number>, u: number): number {
  let total = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i]! > 0) ((total += probs[i]!), (last = i));
  const r = u * total;
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    if (!(probs[i]! > 0)) continue;
    acc += probs[i]!;
    if (r < acc) return i;
  }
  return last;
}

/** The token at position `pos` for seed `seed` (stream: plain sampling unless given). */
export function sampleAt(
  logits: Float32Array,
  opts: SampleOptions,
  at: { seed: number; pos: number; stream?: number },
  classes = logits.length,
): number {
  return drawFrom(sampleDistribution(logits, opts, classes), sampleUniform(at.seed, at.pos, at.stream));
}

/** A sequential seeded RNG, for callers that draw without positions. */
export function sampler(seed: number): Rng {
  return makeRng(seed);
}

/** The rule with the uniform taken from `rng`. `classes`: the real vocabulary (ids >= it are padding and never drawn). */
export function sampleToken(logits: Float32Array, opts: SampleOptions, rng: Rng, classes = logits.length): number {
  return drawFrom(sampleDistribution(logits, opts, classes), rng.uniform());
}

function checkClasses(logits: Float32Array, classes: number): number {
  if (!(Number.isInteger(classes) && classes >= 1 && classes <= logits.length))
    throw new RangeError(`sampleToken: classes must be an integer in [1, ${logits.length}], got ${classes}`);
  return classes;
}
