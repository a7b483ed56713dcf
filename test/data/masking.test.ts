/**
 * BERT masking (runtime/data/masking.ts): the number of chosen positions per row, the
 * 80/10/10 split within statistical bounds, targets, uniform choice over positions,
 * determinism in (seed, stream, counter), and resume-exactness through the BatchSampler.
 */
import { describe, expect, it } from 'vitest';
import { BatchSampler } from '../../runtime/data/batches.js';
import {
  maskBatch,
  maskedPerRow,
  maskEvalBatches,
  MLM_EVAL_STREAM,
  MLM_TRAIN_STREAM,
  mlmMasking,
  nextMaskedBatch,
} from '../../runtime/data/masking.js';
import { DataError } from '../../runtime/data/source.js';
import { byteTokenizer, MLM_SPECIALS, withSpecials } from '../../runtime/tokenizers/index.js';

const ORDINARY = 100;
const MASK = 100;
const opts = { maskProb: 0.15, maskId: MASK, ordinary: ORDINARY, seed: 1337, stream: MLM_TRAIN_STREAM };
/** Rows of distinct-ish tokens in [0, ORDINARY). */
function rows(B: number, T: number, salt = 0): Int32Array {
  return Int32Array.from({ length: B * T }, (_, i) => (i * 7 + salt * 13 + ((i * i) % 11)) % ORDINARY);
}

describe('maskBatch', () => {
  it('chooses round(mask_prob · T) positions per row; targets are the originals there and −1 elsewhere', () => {
    const B = 8;
    const T = 64;
    const x = rows(B, T);
    const { inputs, targets } = maskBatch(x, T, opts, 0);
    const m = maskedPerRow(T, 0.15);
    expect(m).toBe(10);
    for (let b = 0; b < B; b++) {
      let chosen = 0;
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        if (targets[i] === -1) expect(inputs[i]).toBe(x[i]);
        else {
          chosen++;
          expect(targets[i]).toBe(x[i]);
        }
      }
      expect(chosen).toBe(m);
    }
  });

  it('splits the chosen positions 80/10/10 (mask / random ordinary token / unchanged) within 4σ', () => {
    const B = 32;
    const T = 128;
    let n = 0;
    let masked = 0;
    let changed = 0;
    let same = 0;
    const perPosition = new Float64Array(T);
    for (let c = 0; c < 20; c++) {
      const x = rows(B, T, c);
      const { inputs, targets } = maskBatch(x, T, opts, c);
      for (let i = 0; i < x.length; i++) {
        if (targets[i] < 0) continue;
        n++;
        perPosition[i % T]!++;
        if (inputs[i] === MASK) masked++;
        else if (inputs[i] !== x[i]) {
          changed++;
          expect(inputs[i]).toBeGreaterThanOrEqual(0);
          expect(inputs[i]).toBeLessThan(ORDINARY); // never a special token
        } else same++;
      }
    }
    expect(n).toBe(20 * B * maskedPerRow(T, 0.15));
    const within = (count: number, p: number) => {
      const sigma = Math.sqrt((n * p * (1 - p)) as number);
      expect(Math.abs(count - n * p)).toBeLessThan(4 * sigma);
    };
    within(masked, 0.8);
    // A random replacement equals the original with probability 1/ORDINARY.
    within(changed, 0.1 * (1 - 1 / ORDINARY));
    within(same, 0.1 + 0.1 / ORDINARY);
    // Every position of a row is equally likely to be chosen.
    const rowsSeen = 20 * B;
    const p = maskedPerRow(T, 0.15) / T;
    const sigma = Math.sqrt(rowsSeen * p * (1 - p));
    for (const k of perPosition) expect(Math.abs(k - rowsSeen * p)).toBeLessThan(5 * sigma);
  });

  it('masks the mask_prob fraction for other rates, at least one position per row', () => {
    expect(maskedPerRow(100, 0.3)).toBe(30);
    expect(maskedPerRow(10, 0.01)).toBe(1);
    const { targets } = maskBatch(rows(4, 50), 50, { ...opts, maskProb: 0.4 }, 3);
    expect(targets.filter((t) => t >= 0).length).toBe(4 * 20);
  });

  it('is a pure function of (seed, stream, counter)', () => {
    const x = rows(4, 32);
    const a = maskBatch(x, 32, opts, 5);
    expect(maskBatch(x, 32, opts, 5)).toEqual(a);
    expect(maskBatch(x, 32, opts, 6).targets).not.toEqual(a.targets);
    expect(maskBatch(x, 32, { ...opts, seed: 1 }, 5).targets).not.toEqual(a.targets);
    expect(maskBatch(x, 32, { ...opts, stream: MLM_EVAL_STREAM }, 5).targets).not.toEqual(a.targets);
    // The input array is left alone.
    expect(x).toEqual(rows(4, 32));
  });

  it('refuses a mask_prob outside (0, 1)', () => {
    for (const p of [0, 1, -0.1, Number.NaN]) expect(() => maskBatch(rows(1, 8), 8, { ...opts, maskProb: p }, 0)).toThrow(DataError);
  });
});

describe('masked batches of a run', () => {
  const tokens = Uint16Array.from({ length: 5000 }, (_, i) => (i * 31 + (i >> 3)) % 256);
  const tokenizer = withSpecials(byteTokenizer(), MLM_SPECIALS);
  const masking = mlmMasking(tokenizer, 0.15, 42);
  const sampling = { batch: 4, seqLen: 16, seed: 42 };

  it('uses the windows unshifted: every target is the token of its own input position', () => {
    const sampler = new BatchSampler(tokens, sampling);
    const probe = new BatchSampler(tokens, sampling);
    const b = nextMaskedBatch(sampler, 16, masking);
    const w = probe.next();
    for (let i = 0; i < b.targets.length; i++) if (b.targets[i]! >= 0) expect(b.targets[i]).toBe(w.inputs[i]);
    expect(masking.maskId).toBe(256);
    expect(masking.ordinary).toBe(256);
  });

  it('resumes exactly: a sampler restored at step k draws the same masked batches as the uninterrupted one', () => {
    const straight = new BatchSampler(tokens, sampling);
    const all = Array.from({ length: 10 }, () => nextMaskedBatch(straight, 16, masking));
    const first = new BatchSampler(tokens, sampling);
    for (let k = 0; k < 6; k++) nextMaskedBatch(first, 16, masking);
    const resumed = BatchSampler.restore(tokens, { batch: 4, seqLen: 16 }, first.state);
    for (let k = 6; k < 10; k++) expect(nextMaskedBatch(resumed, 16, masking)).toEqual(all[k]);
    // Consecutive micro-batches get different masks.
    expect(all[1]!.targets).not.toEqual(all[0]!.targets);
  });

  it('evaluation batches are masked the same way every time', () => {
    const windows = [{ inputs: rows(2, 16) }, { inputs: rows(2, 16, 1) }];
    expect(maskEvalBatches(windows, 16, masking)).toEqual(maskEvalBatches(windows, 16, masking));
  });

  it('a tokenizer without [MASK] cannot train a masked LM', () => {
    expect(() => mlmMasking(byteTokenizer(), 0.15, 1)).toThrow(/no \[MASK\] token/);
  });
});
