/**
 * Multi-head attention, computed the plain way (full score row, then softmax) as the
 * reference the fused online-softmax kernel must reproduce.
 *
 * Layout: q (B, T, H·D), k and v (B, Tk, K·D), head h in columns h·D … h·D+D−1 (HF's
 * `view(B, T, H, D)`). Query head h reads K/V head ⌊h / (H/K)⌋ (HF `repeat_kv`: GQA, and
 * MQA at K = 1). Scores are q·k / √D (q·k when attrs.scaled is false, as T5) plus a position
 * bias: ALiBi, or T5's learned table entry bias[bucket(j − i), h]. With training randomness and
 * dropout > 0, each weight P_ij of the full softmax is kept or dropped (inverted dropout):
 *   O_i = Σ_j Z_ij·P_ij·V_j,   Z_ij = keep_ij / (1 − p),
 * the mask element of (b, h, i, j) being ((b·H + h)·T + i)·Tk + j of stream attrs.stream
 * (interpret/dropout.ts); the log-sum-exp the backward keeps is the undropped softmax's.
 *
 * Which keys query i sees (i, j are indices into the query and key sequences):
 *   causal:             j ≤ i
 *   causal + window w:  i − w < j ≤ i          (Mistral: w keys including itself)
 *   bidirectional + w:  |i − j| < w
 * A query that sees no key at all outputs zeros (not NaN).
 */
import type { AttentionAttrs } from '../ops.js';
import type { DropoutRng } from '../../../runtime/counter-rng.js';
import { floats, type Tensor } from './common.js';
import { dropoutScale } from './dropout.js';

/**
 * ALiBi slopes (Press et al., the paper's `get_slopes`, as BLOOM builds them): for a power of
 * two n, slope_h = 2^(−8(h+1)/n); otherwise the slopes for the largest power of two m < n,
 * followed by every other slope for 2m (the odd powers of 2^(−8/2m)), n − m of them.
 */
export function alibiSlopes(heads: number): number[] {
  const pow2 = (n: number) => Array.from({ length: n }, (_, h) => 2 ** ((-8 * (h + 1)) / n));
  const m = 2 ** Math.floor(Math.log2(heads));
  if (m === heads) return pow2(heads);
  const extra = pow2(2 * m)
    .filter((_, i) => i % 2 === 0)
    .slice(0, heads - m);
  return [...pow2(m), ...extra];
}

/**
 * T5's bucket for relative position `rel` = key index − query index, exactly as HF
 * `T5Attention._relative_position_bucket`. Bidirectional (encoder): half the buckets for
 * keys after the query, offset by buckets/2; unidirectional (causal decoder): keys after the
 * query all fall in bucket 0. Of each half, distances below max_exact = n/2 get a bucket
 * each; larger ones share log-spaced buckets up to max_distance, beyond which all go to the
 * last. The log term is rounded through f32 as torch computes it, then truncated.
 */
export function t5RelativeBucket(rel: number, bidirectional: boolean, buckets: number, maxDistance: number): number {
  let n = buckets;
  let bucket = 0;
  let dist: number;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (rel > 0) bucket += n;
    dist = Math.abs(rel);
  } else {
    dist = Math.max(-rel, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (dist < maxExact) return bucket + dist;
  const f = Math.fround;
  const scaled = f(f(f(Math.log(f(dist / maxExact))) / f(Math.log(maxDistance / maxExact))) * (n - maxExact));
  return bucket + Math.min(maxExact + Math.trunc(scaled), n - 1);
}

/** The score scale: 1/√D, or 1 for unscaled attention (T5: `attention { scaled: false }`). */
export function attentionScale(a: Pick<AttentionAttrs, 'head_dim' | 'scaled'>): number {
  return a.scaled === false ? 1 : 1 / Math.sqrt(a.head_dim);
}

/** Whether query i sees key j. */
export function visible(i: number, j: number, a: Pick<AttentionAttrs, 'causal' | 'window'>): boolean {
  if (a.causal && j > i) return false;
  if (a.window === null) return true;
  return a.causal ? j > i - a.window : Math.abs(i - j) < a.window;
}

/** (q, k, v[, relative bias table (buckets, H)]) → (B, T, H·D). */
export function attention(ins: readonly Tensor[], a: AttentionAttrs, rng?: DropoutRng): Tensor {
  const q = floats(ins[0]!, 'attention q');
  const k = floats(ins[1]!, 'attention k');
  const v = floats(ins[2]!, 'attention v');
  const table = a.positions === 'relative' ? floats(ins[3]!, 'relative bias table') : null;
  const [B, T] = ins[0]!.shape as [number, number, number];
  const Tk = ins[1]!.shape[1]!;
  const { heads: H, kv_heads: K, head_dim: D } = a;
  const group = H / K;
  const scale = attentionScale(a);
  const slopes = a.positions === 'alibi' ? alibiSlopes(H) : null;
  const z = dropoutScale(a.dropout, a.stream ?? 0, rng);

  // Position bias for (head, i, j); ALiBi's −slope·|i − j| equals BLOOM's slope·j up to a
  // per-row constant, which softmax ignores.
  const bias = (h: number, i: number, j: number): number => {
    if (slopes) return -slopes[h]! * Math.abs(i - j);
    if (table) return table[t5RelativeBucket(j - i, !a.causal, a.buckets, a.max_distance) * H + h]!;
    return 0;
  };

  const out = new Float32Array(B * T * H * D);
  const s = new Float64Array(Tk); // one row of scores
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const qo = (b * T + i) * H * D + h * D; // q[b, i, h, :]
        let max = -Infinity;
        for (let j = 0; j < Tk; j++) {
          if (!visible(i, j, a)) {
            s[j] = -Infinity;
            continue;
          }
          const ko = (b * Tk + j) * K * D + g * D; // k[b, j, g, :]
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
          s[j] = dot * scale + bias(h, i, j);
          max = Math.max(max, s[j]!);
        }
        if (max === -Infinity) continue; // no visible key: the output row stays zero
        let sum = 0;
        for (let j = 0; j < Tk; j++) {
          s[j] = Math.exp(s[j]! - max); // exp(−∞) = 0 for masked keys
          sum += s[j]!;
        }
        const acc = new Float64Array(D);
        const row = ((b * H + h) * T + i) * Tk; // mask index of (b, h, i, 0)
        for (let j = 0; j < Tk; j++) {
          const w = z ? s[j]! * z(row + j) : s[j]!;
          if (w === 0) continue;
          const vo = (b * Tk + j) * K * D + g * D;
          for (let d = 0; d < D; d++) acc[d] += w * v[vo + d]!;
        }
        for (let d = 0; d < D; d++) out[qo + d] = acc[d]! / sum;
      }
    }
  }
  return { shape: [...ins[0]!.shape], data: out };
}
