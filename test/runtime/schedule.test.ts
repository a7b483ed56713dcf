/**
 * The learning-rate schedule (nanoGPT's get_lr with lr_decay_iters = steps) at its key steps,
 * against numbers worked out by hand, for lr 6e-4, min_lr 6e-5, warmup 10, steps 110.
 */
import { describe, expect, it } from 'vitest';
import { learningRate, type ScheduleOptions } from '../../runtime/train/schedule.js';

const base = { lr: 6e-4, min_lr: 6e-5, warmup: 10, steps: 110 };
const at = (kind: ScheduleOptions['kind'], step: number, o: Partial<ScheduleOptions> = {}) => learningRate(step, { ...base, kind, ...o });

describe('learningRate', () => {
  it('warmup: lr·(step + 1)/(warmup + 1), the same for every kind', () => {
    for (const kind of ['cosine', 'linear', 'constant'] as const) {
      expect(at(kind, 0)).toBeCloseTo(6e-4 / 11, 15); // 5.4545…e-5, not 0
      expect(at(kind, 4)).toBeCloseTo((3e-4 * 10) / 11, 15);
      expect(at(kind, 9)).toBeCloseTo((6e-4 * 10) / 11, 15); // warmup − 1
    }
  });

  it('cosine: lr at the end of warmup, halfway at the middle, min_lr at steps', () => {
    expect(at('cosine', 10)).toBeCloseTo(6e-4, 15); // ratio 0
    expect(at('cosine', 35)).toBeCloseTo(6e-5 + 0.5 * (1 + Math.SQRT1_2) * 5.4e-4, 15); // ratio 1/4: 5.2092e-4
    expect(at('cosine', 35)).toBeCloseTo(5.209188309203678e-4, 15);
    expect(at('cosine', 60)).toBeCloseTo(3.3e-4, 15); // ratio 1/2: (lr + min_lr)/2
    expect(at('cosine', 109)).toBeCloseTo(6e-5 + 0.5 * (1 + Math.cos(Math.PI * 0.99)) * 5.4e-4, 15); // the last step of a 110-step run
    expect(at('cosine', 109)).toBeCloseTo(6.01332287e-5, 13); // 6e-5 + 5.4e-4·sin²(0.005π)
    expect(at('cosine', 110)).toBeCloseTo(6e-5, 15); // ratio 1
    expect(at('cosine', 111)).toBe(6e-5); // past steps
  });

  it('linear: lr → min_lr in a straight line', () => {
    expect(at('linear', 10)).toBeCloseTo(6e-4, 15);
    expect(at('linear', 35)).toBeCloseTo(6e-5 + 0.75 * 5.4e-4, 15); // 4.65e-4
    expect(at('linear', 60)).toBeCloseTo(3.3e-4, 15);
    expect(at('linear', 109)).toBeCloseTo(6e-5 + 0.01 * 5.4e-4, 15); // 6.54e-5
    expect(at('linear', 110)).toBeCloseTo(6e-5, 15);
    expect(at('linear', 500)).toBe(6e-5);
  });

  it('constant: lr after warmup, whatever min_lr says', () => {
    for (const step of [10, 60, 109, 110, 1000]) expect(at('constant', step)).toBe(6e-4);
  });

  it('no warmup starts at lr', () => {
    expect(at('cosine', 0, { warmup: 0 })).toBe(6e-4);
    expect(at('linear', 0, { warmup: 0 })).toBe(6e-4);
    expect(at('constant', 0, { warmup: 0 })).toBe(6e-4);
    expect(at('cosine', 50, { warmup: 0, steps: 100 })).toBeCloseTo(3.3e-4, 15);
  });

  it('rises through warmup, then never increases (cosine and linear)', () => {
    for (const kind of ['cosine', 'linear'] as const) {
      for (const o of [base, { ...base, warmup: 0, steps: 7 }, { ...base, warmup: 3, steps: 1000, min_lr: 0 }]) {
        let prev = -Infinity;
        for (let s = 0; s < o.warmup; s++) {
          const lr = learningRate(s, { ...o, kind });
          expect(lr).toBeGreaterThan(prev);
          prev = lr;
        }
        prev = Infinity;
        for (let s = o.warmup; s <= o.steps + 5; s++) {
          const lr = learningRate(s, { ...o, kind });
          expect(lr, `${kind} step ${s}`).toBeLessThanOrEqual(prev);
          expect(lr).toBeGreaterThanOrEqual(o.min_lr);
          expect(lr).toBeLessThanOrEqual(o.lr);
          prev = lr;
        }
      }
    }
  });

  it('a decay of no length runs at min_lr after warmup; bad arguments throw', () => {
    expect(at('cosine', 10, { steps: 10 })).toBe(6e-5);
    expect(at('linear', 12, { steps: 5 })).toBe(6e-5);
    expect(() => at('cosine', -1)).toThrow(/step/);
    expect(() => at('cosine', 1.5)).toThrow(/step/);
    expect(() => at('cosine', 0, { warmup: -1 })).toThrow(/warmup/);
    expect(() => at('cosine', 0, { lr: NaN })).toThrow(/lr/);
  });
});
