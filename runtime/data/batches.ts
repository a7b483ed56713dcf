/**
 * Batches for causal language modelling, reproducible from a seed.
 *
 * Training batches (`BatchSampler`) are nanoGPT's `get_batch`: B start offsets drawn uniformly
 * from [0, n − T − 1]; a row's inputs are tokens[s, s + T) and its targets tokens[s + 1, s + T]
 * (the inputs shifted by one). The draw for step k uses its own generator,
 * `makeRng(deriveSeed(seed, 'batch:' + k))`, so batch k depends only on (tokens, B, T, seed, k):
 * a run resumed at step k from `sampler.state` sees exactly the batches an uninterrupted run
 * would, and no batch depends on how many were drawn before it.
 *
 * Evaluation batches (`evalBatches`) are fixed windows spread evenly over the stream, the
 * same every time, so validation losses of different steps and runs compare directly.
 */
import { deriveSeed, makeRng, type Rng } from '../random.js';
import { DataError, type TokenArray } from './source.js';

/** Token ids to draw windows from. */
export type Tokens = TokenArray | Uint32Array | readonly number[];

export interface Batch {
  /** B·T token ids, row-major: row b is inputs[b·T, (b + 1)·T). */
  readonly inputs: Int32Array;
  /** B·T next-token ids: targets[b·T + t] = tokens[offsets[b] + t + 1]. */
  readonly targets: Int32Array;
  /** The start offset of each row in the token stream. */
  readonly offsets: readonly number[];
}

export interface BatchOptions {
  /** B: rows per batch. */
  batch: number;
  /** T: tokens per row. */
  seqLen: number;
  /** Names the stream in error messages ('training split', 'validation split'); default 'token stream'. */
  split?: string;
}

export interface SamplerOptions extends BatchOptions {
  /** Any safe integer; the streams use it modulo 2^32. */
  seed: number;
}

/** What a checkpoint keeps to resume sampling: the seed and the next step to draw. */
export interface SamplerState {
  readonly seed: number;
  readonly step: number;
}

export class BatchSampler {
  readonly #tokens: Tokens;
  readonly #opts: SamplerOptions;
  #step: number;

  constructor(tokens: Tokens, opts: SamplerOptions, step = 0) {
    checkShape(tokens.length, opts);
    if (!Number.isSafeInteger(opts.seed)) throw new DataError(`the batch seed must be an integer, got ${opts.seed}`);
    if (!Number.isSafeInteger(step) || step < 0) throw new DataError(`the sampler step must be a non-negative integer, got ${step}`);
    this.#tokens = tokens;
    this.#opts = { ...opts };
    this.#step = step;
  }

  /** The batch for the current step; advances the step. */
  next(): Batch {
    return sampleBatch(this.#tokens, this.#opts, this.#step++);
  }

  /** The seed and the next step to draw: store it, and `restore` from it to resume. */
  get state(): SamplerState {
    return { seed: this.#opts.seed, step: this.#step };
  }

  /**
   * A sampler that continues from `state` (taken from `sampler.state`, e.g. through a
   * checkpoint). `opts.seed` may be left out; when given it must match the state's.
   */
  static restore(tokens: Tokens, opts: BatchOptions & { seed?: number }, state: SamplerState): BatchSampler {
    if (opts.seed !== undefined && opts.seed !== state.seed) {
      throw new DataError(
        `cannot resume batch sampling: the saved state was drawn with seed ${state.seed} but seed ${opts.seed} was asked for; resume with seed ${state.seed} or start a new run`,
      );
    }
    return new BatchSampler(tokens, { ...opts, seed: state.seed }, state.step);
  }
}

/** The training batch of step `step` (what `BatchSampler` returns at that step). */
export function sampleBatch(tokens: Tokens, opts: SamplerOptions, step: number): Batch {
  checkShape(tokens.length, opts);
  const { batch, seqLen } = opts;
  const rng = makeRng(deriveSeed(opts.seed, `batch:${step}`));
  const starts = tokens.length - seqLen; // the number of valid start offsets, [0, n − T − 1]
  const offsets: number[] = [];
  for (let b = 0; b < batch; b++) offsets.push(randomInt(rng, starts));
  return gather(tokens, offsets, seqLen);
}

/**
 * Fixed evaluation batches: `batch · count` windows whose start offsets are spread evenly over
 * [0, n − T − 1] (the first at 0, the last at n − T − 1), the same on every call. The default
 * `count` is the fewest batches whose windows cover every target position of the stream.
 */
export function evalBatches(tokens: Tokens, opts: BatchOptions & { count?: number }): Batch[] {
  checkShape(tokens.length, opts);
  const { batch, seqLen } = opts;
  const n = tokens.length;
  const count = opts.count ?? Math.ceil(Math.ceil((n - 1) / seqLen) / batch);
  if (!Number.isSafeInteger(count) || count < 1)
    throw new DataError(`the number of evaluation batches must be a positive integer, got ${count}`);
  const windows = batch * count;
  const span = n - seqLen - 1;
  const out: Batch[] = [];
  for (let c = 0; c < count; c++) {
    const offsets: number[] = [];
    for (let b = 0; b < batch; b++) {
      const j = c * batch + b;
      offsets.push(windows === 1 ? 0 : Math.round((j * span) / (windows - 1)));
    }
    out.push(gather(tokens, offsets, seqLen));
  }
  return out;
}

function checkShape(n: number, opts: BatchOptions): void {
  const { batch, seqLen } = opts;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new DataError(`the batch size must be a positive integer, got ${batch}`);
  if (!Number.isSafeInteger(seqLen) || seqLen < 1) throw new DataError(`the sequence length must be a positive integer, got ${seqLen}`);
  if (n < seqLen + 1) {
    const what = opts.split ?? 'token stream';
    throw new DataError(
      `the ${what} has ${n} token${n === 1 ? '' : 's'}, but a sequence length of ${seqLen} needs at least ${seqLen + 1} (a window and its next-token targets); use more training data or a shorter sequence length${/val/i.test(what) ? ', or a larger valFraction' : ''}`,
    );
  }
}

function gather(tokens: Tokens, offsets: readonly number[], seqLen: number): Batch {
  const inputs = new Int32Array(offsets.length * seqLen);
  const targets = new Int32Array(offsets.length * seqLen);
  offsets.forEach((s, b) => {
    if (ArrayBuffer.isView(tokens)) {
      const t = tokens as TokenArray | Uint32Array;
      inputs.set(t.subarray(s, s + seqLen), b * seqLen);
      targets.set(t.subarray(s + 1, s + 1 + seqLen), b * seqLen);
    } else {
      for (let i = 0; i < seqLen; i++) {
        inputs[b * seqLen + i] = tokens[s + i]!;
        targets[b * seqLen + i] = tokens[s + 1 + i]!;
      }
    }
  });
  return { inputs, targets, offsets };
}

/** Uniform in [0, range) without modulo bias (rejection on 32-bit words). */
export function randomInt(rng: Rng, range: number): number {
  const W = 2 ** 32;
  if (range <= W) {
    const limit = W - (W % range);
    for (;;) {
      const u = rng.nextU32();
      if (u < limit) return u % range;
    }
  }
  // Streams over 2^32 tokens: a 53-bit uniform (bias below 2^-20 for any array length).
  const x = (rng.nextU32() * 2 ** 21 + (rng.nextU32() >>> 11)) / 2 ** 53;
  return Math.floor(x * range);
}
