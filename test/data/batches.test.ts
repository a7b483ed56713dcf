/** Seeded batch sampling for causal LM: shapes, shifted targets, determinism, resume, eval windows. */
import { describe, expect, it } from 'vitest';
import { BatchSampler, evalBatches, sampleBatch, type Batch } from '../../runtime/data/batches.js';
import { prepareDataset } from '../../runtime/data/dataset.js';
import { DataError } from '../../runtime/data/source.js';

const moby = prepareDataset({ data: 'moby-dick', tokenizer: 'char' });
const OPTS = { batch: 8, seqLen: 64, seed: 1337 };

function take(s: BatchSampler, k: number): Batch[] {
  return Array.from({ length: k }, () => s.next());
}

function dataError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('expected a DataError');
}

describe('BatchSampler', () => {
  it('gives B·T inputs and targets = inputs shifted by one, from windows in [0, n − T − 1]', () => {
    const s = new BatchSampler(moby.train, OPTS);
    for (const b of take(s, 20)) {
      expect(b.inputs).toBeInstanceOf(Int32Array);
      expect(b.inputs.length).toBe(8 * 64);
      expect(b.targets.length).toBe(8 * 64);
      b.offsets.forEach((o, r) => {
        expect(o).toBeGreaterThanOrEqual(0);
        expect(o).toBeLessThanOrEqual(moby.train.length - 64 - 1);
        expect(Array.from(b.inputs.subarray(r * 64, (r + 1) * 64))).toEqual(Array.from(moby.train.subarray(o, o + 64)));
        expect(Array.from(b.targets.subarray(r * 64, (r + 1) * 64))).toEqual(Array.from(moby.train.subarray(o + 1, o + 65)));
        // shifted: target t is input t + 1
        for (let t = 0; t < 63; t++) expect(b.targets[r * 64 + t]).toBe(b.inputs[r * 64 + t + 1]);
      });
    }
    expect(s.state).toEqual({ seed: 1337, step: 20 });
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = take(new BatchSampler(moby.train, OPTS), 5);
    const b = take(new BatchSampler(moby.train, OPTS), 5);
    const c = take(new BatchSampler(moby.train, { ...OPTS, seed: 1338 }), 5);
    expect(b).toEqual(a);
    expect(c.map((x) => x.offsets)).not.toEqual(a.map((x) => x.offsets));
    // fixed values guard against accidental changes of the sampling scheme
    expect(a[0]!.offsets).toEqual([161265, 378579, 957284, 315660, 511765, 97746, 861454, 888649]);
  });

  it('resumes: batches k..k+5 after restore equal those of an uninterrupted sampler', () => {
    const k = 7;
    const whole = take(new BatchSampler(moby.train, OPTS), k + 6);
    const first = new BatchSampler(moby.train, OPTS);
    take(first, k);
    const saved = JSON.parse(JSON.stringify(first.state)); // as a checkpoint would store it
    expect(saved).toEqual({ seed: 1337, step: k });
    const resumed = BatchSampler.restore(moby.train, { batch: 8, seqLen: 64 }, saved);
    expect(take(resumed, 6)).toEqual(whole.slice(k));
    expect(resumed.state).toEqual({ seed: 1337, step: k + 6 });
    // and batch k is a function of (seed, k) alone
    expect(sampleBatch(moby.train, OPTS, k + 2)).toEqual(whole[k + 2]);
  });

  it('draws start offsets uniformly enough', () => {
    const n = 12; // starts 0..2 for T = 9
    const tokens = Int32Array.from({ length: n }, (_, i) => i);
    const counts = [0, 0, 0];
    const s = new BatchSampler(tokens, { batch: 30, seqLen: 9, seed: 1 });
    for (let i = 0; i < 100; i++) for (const o of s.next().offsets) counts[o]!++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(120);
  });

  it('works with a corpus of exactly seqLen + 1 tokens and plain arrays', () => {
    const b = new BatchSampler([5, 6, 7, 8], { batch: 2, seqLen: 3, seed: 9 }).next();
    expect(Array.from(b.inputs)).toEqual([5, 6, 7, 5, 6, 7]);
    expect(Array.from(b.targets)).toEqual([6, 7, 8, 6, 7, 8]);
  });

  it('errors: corpus shorter than seqLen + 1', () => {
    expect(dataError(() => new BatchSampler(new Uint16Array(64), { ...OPTS, split: 'training split' }))).toBe(
      'the training split has 64 tokens, but a sequence length of 64 needs at least 65 (a window and its next-token targets); use more training data or a shorter sequence length',
    );
    expect(dataError(() => evalBatches(new Uint16Array(1), { batch: 1, seqLen: 8, split: 'validation split' }))).toBe(
      'the validation split has 1 token, but a sequence length of 8 needs at least 9 (a window and its next-token targets); use more training data or a shorter sequence length, or a larger valFraction',
    );
  });

  it('errors: bad shapes, seeds, steps, and a resume with another seed', () => {
    const t = new Uint16Array(100);
    expect(dataError(() => new BatchSampler(t, { ...OPTS, batch: 0 }))).toBe('the batch size must be a positive integer, got 0');
    expect(dataError(() => new BatchSampler(t, { ...OPTS, seqLen: 2.5 }))).toBe('the sequence length must be a positive integer, got 2.5');
    expect(dataError(() => new BatchSampler(t, { ...OPTS, seed: 0.5 }))).toBe('the batch seed must be an integer, got 0.5');
    expect(dataError(() => BatchSampler.restore(t, { batch: 2, seqLen: 4 }, { seed: 1, step: -1 }))).toBe(
      'the sampler step must be a non-negative integer, got -1',
    );
    expect(dataError(() => BatchSampler.restore(t, { batch: 2, seqLen: 4, seed: 2 }, { seed: 1, step: 3 }))).toBe(
      'cannot resume batch sampling: the saved state was drawn with seed 1 but seed 2 was asked for; resume with seed 1 or start a new run',
    );
  });
});

describe('evalBatches', () => {
  it('covers the stream with evenly spaced windows, the same every time', () => {
    const val = moby.val;
    const a = evalBatches(val, { batch: 4, seqLen: 64, count: 10 });
    expect(a).toHaveLength(10);
    expect(evalBatches(val, { batch: 4, seqLen: 64, count: 10 })).toEqual(a);
    const offsets = a.flatMap((b) => b.offsets);
    expect(offsets[0]).toBe(0);
    expect(offsets.at(-1)).toBe(val.length - 64 - 1);
    const gaps = offsets.slice(1).map((o, i) => o - offsets[i]!);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
    for (const b of a) for (let i = 0; i < b.inputs.length; i++) if ((i + 1) % 64) expect(b.targets[i]).toBe(b.inputs[i + 1]);
  });

  it('by default covers every target position with the fewest batches', () => {
    const tokens = Int32Array.from({ length: 1000 }, (_, i) => i);
    const bs = evalBatches(tokens, { batch: 3, seqLen: 32 });
    expect(bs).toHaveLength(Math.ceil(Math.ceil(999 / 32) / 3)); // 32 windows needed → 11 batches
    const covered = new Set<number>();
    for (const b of bs) for (const t of b.targets) covered.add(t);
    expect(covered.size).toBe(999); // positions 1..999
    expect(dataError(() => evalBatches(tokens, { batch: 3, seqLen: 32, count: 0 }))).toBe(
      'the number of evaluation batches must be a positive integer, got 0',
    );
  });

  it('a single window starts at 0', () => {
    const b = evalBatches([1, 2, 3, 4, 5], { batch: 1, seqLen: 2, count: 1 });
    expect(b[0]!.offsets).toEqual([0]);
  });
});
