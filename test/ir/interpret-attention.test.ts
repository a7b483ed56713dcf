/**
 * Attention in the CPU interpreter: masks, head grouping and position biases, checked against
 * an independent per-head softmax written out here and against hand-derived values.
 */
import { describe, expect, it } from 'vitest';
import { alibiSlopes, fromArray, interpretOp, t5RelativeBucket, type Tensor } from '../../compiler/ir/interpret.js';
import type { AttentionAttrs } from '../../compiler/ir/ops.js';
import { makeRng } from '../../runtime/random.js';

const f = (shape: number[], values: number[]) => fromArray(shape, values);

function attrs(a: Partial<AttentionAttrs> & Pick<AttentionAttrs, 'heads' | 'head_dim'>): AttentionAttrs {
  return {
    kv_heads: a.heads,
    causal: true,
    window: null,
    positions: 'none',
    buckets: 0,
    max_distance: 0,
    dropout: 0,
    cross: false,
    ...a,
  };
}

function attend(ins: Tensor[], a: AttentionAttrs): Float32Array {
  const out = interpretOp('attention', ins, a, { dtype: 'f32', shape: ins[0]!.shape }, { B: 1, T: 1, S: 1 });
  return out.data as Float32Array;
}

function randomTensor(shape: number[], seed: number): Tensor {
  const rng = makeRng(seed);
  const n = shape.reduce((a, d) => a * d, 1);
  return f(
    shape,
    Array.from({ length: n }, () => rng.normal()),
  );
}

/** A copy of `t` (B, T, C) with position `pos` of batch 0 replaced by new random values. */
function perturb(t: Tensor, pos: number, seed: number): Tensor {
  const C = t.shape[2]!;
  const data = Float32Array.from(t.data);
  const rng = makeRng(seed);
  for (let c = 0; c < C; c++) data[pos * C + c] = rng.normal();
  return { shape: t.shape, data };
}

/** Output rows (B = 1) of a (1, T, C) result. */
const row = (y: Float32Array, C: number, i: number) => [...y.subarray(i * C, (i + 1) * C)];

/**
 * Independent reference: one head at a time, scores as a full matrix, `mask(i, j)` says
 * whether query i sees key j; `kvHead(h)` picks the K/V head. B = 1.
 */
function reference(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  H: number,
  D: number,
  kvHead: (h: number) => number,
  mask: (i: number, j: number) => boolean,
  bias: (h: number, i: number, j: number) => number = () => 0,
): number[] {
  const T = q.shape[1]!;
  const Tk = k.shape[1]!;
  const Ck = k.shape[2]!;
  const out = new Array<number>(T * H * D).fill(0);
  for (let h = 0; h < H; h++) {
    const g = kvHead(h);
    for (let i = 0; i < T; i++) {
      const w: number[] = [];
      for (let j = 0; j < Tk; j++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += q.data[i * H * D + h * D + d]! * k.data[j * Ck + g * D + d]!;
        w.push(mask(i, j) ? Math.exp(s / Math.sqrt(D) + bias(h, i, j)) : 0);
      }
      const z = w.reduce((a, b) => a + b, 0);
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = 0; j < Tk; j++) acc += w[j]! * v.data[j * Ck + g * D + d]!;
        out[i * H * D + h * D + d] = acc / z;
      }
    }
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], digits = 5): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i], `element ${i}`).toBeCloseTo(e, digits));
}

describe('attention: masks', () => {
  const H = 2;
  const D = 4;
  const T = 6;
  const q = randomTensor([1, T, H * D], 1);
  const k = randomTensor([1, T, H * D], 2);
  const v = randomTensor([1, T, H * D], 3);

  it('causal attention matches the reference softmax with j ≤ i', () => {
    expectClose(
      attend([q, k, v], attrs({ heads: H, head_dim: D })),
      reference(
        q,
        k,
        v,
        H,
        D,
        (h) => h,
        (i, j) => j <= i,
      ),
    );
  });

  it('causal: changing a future token leaves earlier outputs unchanged', () => {
    const a = attrs({ heads: H, head_dim: D });
    const y = attend([q, k, v], a);
    const y2 = attend([q, perturb(k, 3, 10), perturb(v, 3, 11)], a);
    for (let i = 0; i < 3; i++) expect(row(y2, H * D, i)).toEqual(row(y, H * D, i));
    for (let i = 3; i < T; i++) expect(row(y2, H * D, i)).not.toEqual(row(y, H * D, i));
  });

  it('bidirectional attention sees every key', () => {
    const a = attrs({ heads: H, head_dim: D, causal: false });
    expectClose(
      attend([q, k, v], a),
      reference(
        q,
        k,
        v,
        H,
        D,
        (h) => h,
        () => true,
      ),
    );
  });

  it('sliding window: query i sees keys i − w < j ≤ i; a token outside it has no effect', () => {
    const a = attrs({ heads: H, head_dim: D, window: 2 });
    const y = attend([q, k, v], a);
    expectClose(
      y,
      reference(
        q,
        k,
        v,
        H,
        D,
        (h) => h,
        (i, j) => j <= i && j > i - 2,
      ),
    );
    // token 1 is inside the windows of queries 1 and 2 only
    const y2 = attend([q, perturb(k, 1, 20), perturb(v, 1, 21)], a);
    for (const i of [0, 3, 4, 5]) expect(row(y2, H * D, i)).toEqual(row(y, H * D, i));
    for (const i of [1, 2]) expect(row(y2, H * D, i)).not.toEqual(row(y, H * D, i));
  });

  it('bidirectional window: |i − j| < w', () => {
    const a = attrs({ heads: H, head_dim: D, causal: false, window: 2 });
    expectClose(
      attend([q, k, v], a),
      reference(
        q,
        k,
        v,
        H,
        D,
        (h) => h,
        (i, j) => Math.abs(i - j) < 2,
      ),
    );
  });

  it('all scores equal gives the mean of the visible values', () => {
    const zeroQ = f([1, T, H * D], new Array(T * H * D).fill(0));
    const y = attend([zeroQ, k, v], attrs({ heads: H, head_dim: D }));
    const C = H * D;
    for (let i = 0; i < T; i++) {
      const mean = Array.from({ length: C }, (_, c) => {
        let s = 0;
        for (let j = 0; j <= i; j++) s += v.data[j * C + c]!;
        return s / (i + 1);
      });
      expectClose(row(y, C, i), mean);
    }
  });

  it('a query that sees no key outputs zeros', () => {
    // causal, window 1, one key: query 2 would need key 2
    const ins = [randomTensor([1, 3, 4], 5), randomTensor([1, 1, 4], 6), randomTensor([1, 1, 4], 7)];
    const y = attend(ins, attrs({ heads: 1, head_dim: 4, window: 1, cross: true }));
    expect(row(y, 4, 2)).toEqual([0, 0, 0, 0]);
    expect(row(y, 4, 0)).not.toEqual([0, 0, 0, 0]);
  });

  it('cross-attention: T queries over S keys/values', () => {
    const mem = randomTensor([1, 5, H * D], 8);
    const mv = randomTensor([1, 5, H * D], 9);
    const qs = randomTensor([1, 3, H * D], 10);
    const a = attrs({ heads: H, head_dim: D, causal: false, cross: true });
    expectClose(
      attend([qs, mem, mv], a),
      reference(
        qs,
        mem,
        mv,
        H,
        D,
        (h) => h,
        () => true,
      ),
    );
  });
});

describe('attention: head grouping', () => {
  const D = 4;
  const T = 5;

  it('kv_heads = heads is plain multi-head attention, head by head', () => {
    const H = 3;
    const q = randomTensor([1, T, H * D], 1);
    const k = randomTensor([1, T, H * D], 2);
    const v = randomTensor([1, T, H * D], 3);
    const y = attend([q, k, v], attrs({ heads: H, head_dim: D }));
    // each head alone, as a one-head attention on its column slice
    const slice = (t: Tensor, h: number) =>
      f(
        [1, T, D],
        Array.from({ length: T * D }, (_, n) => t.data[Math.floor(n / D) * H * D + h * D + (n % D)]!),
      );
    for (let h = 0; h < H; h++) {
      const one = attend([slice(q, h), slice(k, h), slice(v, h)], attrs({ heads: 1, head_dim: D }));
      for (let i = 0; i < T; i++) expectClose(y.subarray(i * H * D + h * D, i * H * D + h * D + D), row(one, D, i));
    }
  });

  /** k/v with each of the K heads repeated H/K times in a row (HF `repeat_kv`). */
  const repeatKv = (t: Tensor, K: number, H: number) =>
    f(
      [1, T, H * D],
      Array.from({ length: T * H * D }, (_, n) => {
        const [i, h, d] = [Math.floor(n / (H * D)), Math.floor(n / D) % H, n % D];
        return t.data[i * K * D + Math.floor(h / (H / K)) * D + d]!;
      }),
    );

  for (const [H, K] of [
    [4, 2],
    [4, 1],
  ] as const) {
    it(`GQA ${H} heads over ${K} kv heads equals MHA with repeated k/v; head h reads kv head ⌊h/${H / K}⌋`, () => {
      const q = randomTensor([1, T, H * D], 4);
      const k = randomTensor([1, T, K * D], 5);
      const v = randomTensor([1, T, K * D], 6);
      const gqa = attend([q, k, v], attrs({ heads: H, head_dim: D, kv_heads: K }));
      const mha = attend([q, repeatKv(k, K, H), repeatKv(v, K, H)], attrs({ heads: H, head_dim: D }));
      expectClose(gqa, [...mha], 6);
      expectClose(
        gqa,
        reference(
          q,
          k,
          v,
          H,
          D,
          (h) => Math.floor(h / (H / K)),
          (i, j) => j <= i,
        ),
      );
    });
  }
});

describe('attention: ALiBi', () => {
  it('slopes for 8 heads are 1/2¹ … 1/2⁸', () => {
    expect(alibiSlopes(8)).toEqual([1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]);
  });

  it('slopes for a non-power of two: those of 8, then the odd powers of 2^(−8/16)', () => {
    const want = [...alibiSlopes(8), 2 ** -0.5, 2 ** -1.5, 2 ** -2.5, 2 ** -3.5];
    expectClose(alibiSlopes(12), want, 12);
    expect(alibiSlopes(16)[0]).toBeCloseTo(2 ** -0.5, 12);
    expect(alibiSlopes(1)).toEqual([2 ** -8]);
  });

  it('adds −slope·(i − j) to the scores', () => {
    // q = 0, so the weights are softmax over j ≤ 2 of −slope·(2 − j); head 0 of 2 has slope 1/16.
    const H = 2;
    const q = f([1, 3, H], [0, 0, 0, 0, 0, 0]);
    const k = randomTensor([1, 3, H], 1);
    const v = f([1, 3, H], [1, 10, 2, 20, 3, 30]);
    const y = attend([q, k, v], attrs({ heads: H, head_dim: 1, positions: 'alibi' }));
    const slope = alibiSlopes(2)[0]!;
    expect(slope).toBe(1 / 16);
    const w = [2, 1, 0].map((d) => Math.exp(-slope * d));
    const z = w[0]! + w[1]! + w[2]!;
    expect(y[4]).toBeCloseTo((w[0]! * 1 + w[1]! * 2 + w[2]! * 3) / z, 6);
  });
});

describe('attention: T5 relative position buckets', () => {
  // HF: n = 32 → 16 per direction when bidirectional, max_exact = n/2, then
  // max_exact + ⌊log(d / max_exact) / log(max_distance / max_exact) · (n − max_exact)⌋, capped at n − 1.
  it('bidirectional (encoder), 32 buckets, max_distance 128', () => {
    const cases: [number, number][] = [
      [0, 0],
      [-1, 1], // key before the query: exact bucket 1
      [1, 17], // key after: offset by 16
      [-7, 7],
      [-8, 8], // first log bucket: 8 + ⌊log(1)·…⌋
      [-12, 9], // 8 + ⌊log(1.5)/log(16)·8⌋ = 8 + ⌊1.17⌋
      [-16, 10], // 8 + ⌊log(2)/log(16)·8⌋ = 8 + 2
      [-20, 10], // 8 + ⌊2.64⌋
      [-23, 11], // 8 + ⌊3.05⌋
      [-100, 15], // 8 + ⌊7.29⌋
      [-128, 15], // 8 + 8 = 16, capped at 15
      [-1000, 15],
      [100, 31],
    ];
    for (const [rel, bucket] of cases) expect(t5RelativeBucket(rel, true, 32, 128), `rel ${rel}`).toBe(bucket);
  });

  it('unidirectional (causal decoder), 32 buckets, max_distance 128', () => {
    const cases: [number, number][] = [
      [5, 0], // future keys all share bucket 0
      [0, 0],
      [-3, 3],
      [-15, 15],
      [-16, 16], // max_exact = 16
      [-32, 21], // 16 + ⌊log(2)/log(8)·16⌋ = 16 + ⌊5.33⌋
      [-64, 26], // 16 + ⌊10.67⌋
      [-127, 31], // 16 + ⌊15.94⌋
      [-128, 31], // capped
    ];
    for (const [rel, bucket] of cases) expect(t5RelativeBucket(rel, false, 32, 128), `rel ${rel}`).toBe(bucket);
  });

  it('adds table[bucket(j − i), h] to the scores', () => {
    const H = 2;
    const B = 8;
    const table = f(
      [B, H],
      Array.from({ length: B * H }, (_, n) => n / 10),
    ); // table[b, h] = (b·H + h)/10
    const q = f([1, 3, H], new Array(3 * H).fill(0));
    const k = randomTensor([1, 3, H], 1);
    const v = f([1, 3, H], [1, 10, 2, 20, 3, 30]);
    const a = attrs({ heads: H, head_dim: 1, causal: false, positions: 'relative', buckets: B, max_distance: 16 });
    const y = attend([q, k, v, table], a);
    // query 0, head 1: keys at rel 0, 1, 2 → buckets 0, 4 + 1, 4 + 2 (bidirectional, 8 → 4 per side)
    const bucket = [0, 1, 2].map((rel) => t5RelativeBucket(rel, true, B, 16));
    expect(bucket).toEqual([0, 5, 6]);
    const w = bucket.map((b) => Math.exp(table.data[b * H + 1]!));
    expect(y[1]).toBeCloseTo((w[0]! * 10 + w[1]! * 20 + w[2]! * 30) / (w[0]! + w[1]! + w[2]!), 5);
  });
});
