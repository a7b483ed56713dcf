/**
 * Backward of attention and RoPE (interpret/attention.ts, interpret/rope.ts).
 *
 * Attention follows FlashAttention's backward, computed the plain way: the forward saves one
 * log-sum-exp per (batch, head, query) — the op table's `saved.extra` (B, H, T) — so the
 * backward rebuilds each probability as p_ij = exp(s_ij − lse_i) without a second softmax,
 * and takes D_i = Σ_d dO_i·O_i from the saved output. Then for every visible key j:
 *   dV_j += p_ij·dO_i,   dS_ij = p_ij·(dO_i·V_j − D_i),
 *   dQ_i += dS_ij·K_j/√D,   dK_j += dS_ij·Q_i/√D.
 * GQA sums dK, dV over the H/K query heads that read each kv head. ALiBi is a constant bias
 * and needs nothing more; the T5 relative bias adds table[bucket(j − i), h] to s_ij, so its
 * table's cotangent gathers the unscaled score gradient (a scatter-add over the pairs):
 *   dtable[bucket(j − i), h] += p_ij·(dO_i·V_j − D_i).
 * Unscaled attention (attrs.scaled false, T5) uses 1 for 1/√D throughout. With weight dropout (training randomness, dropout > 0)
 * the forward is O_i = Σ_j Z_ij·p_ij·V_j with the same mask Z (interpret/attention.ts), so
 *   dV_j += Z_ij·p_ij·dO_i,   dP_ij = Z_ij·(dO_i·V_j),   dS_ij = p_ij·(dP_ij − D_i),
 * D_i = dO_i·O_i as before (it equals Σ_j p_ij·dP_ij).
 */
import type { AttentionAttrs, OpAttrs } from '../ops.js';
import { alibiSlopes, attentionScale, t5RelativeBucket, visible } from './attention.js';
import { type BackwardFn, dOut, type SaveFn, stored } from './backward-common.js';
import { floats, InterpretError, type Tensor } from './common.js';
import { dropoutScale } from './dropout.js';

interface Scores {
  /** Scaled, biased score of query i (head h, batch b) against key j, or −∞ when masked. */
  score(b: number, h: number, i: number, j: number): number;
}

/** The T5 relative-bias table (buckets, H) when attrs.positions is 'relative'. */
function relativeTable(ins: readonly Tensor[], a: AttentionAttrs): Float32Array | null {
  if (a.positions !== 'relative') return null;
  if (!ins[3]) throw new InterpretError('attention backward: the relative position bias needs its (buckets, heads) table');
  return floats(ins[3], 'relative bias table');
}

function scorer(
  q: Float32Array,
  k: Float32Array,
  table: Float32Array | null,
  shapes: { T: number; Tk: number },
  a: AttentionAttrs,
): Scores {
  const { heads: H, kv_heads: K, head_dim: D } = a;
  const { T, Tk } = shapes;
  const group = H / K;
  const scale = attentionScale(a);
  const slopes = a.positions === 'alibi' ? alibiSlopes(H) : null;
  const bias = (h: number, i: number, j: number): number => {
    if (slopes) return -slopes[h]! * Math.abs(i - j);
    if (table) return table[t5RelativeBucket(j - i, !a.causal, a.buckets, a.max_distance) * H + h]!;
    return 0;
  };
  return {
    score(b, h, i, j) {
      if (!visible(i, j, a)) return -Infinity;
      const qo = (b * T + i) * H * D + h * D; // q[b, i, h, :]
      const ko = (b * Tk + j) * K * D + Math.floor(h / group) * D; // k[b, j, g, :]
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
      return dot * scale + bias(h, i, j);
    },
  };
}

function dims(ins: readonly Tensor[]) {
  const [B, T] = ins[0]!.shape as [number, number, number];
  return { B, T, Tk: ins[1]!.shape[1]! };
}

/** The log-sum-exp of each query's visible scores, (B, H, T); −∞ for a query that sees no key. */
export const attentionSave: SaveFn<AttentionAttrs> = (ins, _out, a) => {
  const { B, T, Tk } = dims(ins);
  const s = scorer(floats(ins[0]!, 'attention q'), floats(ins[1]!, 'attention k'), relativeTable(ins, a), { T, Tk }, a);
  const H = a.heads;
  const lse = new Float32Array(B * H * T);
  const row = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        let max = -Infinity;
        for (let j = 0; j < Tk; j++) max = Math.max(max, (row[j] = s.score(b, h, i, j)));
        let sum = 0;
        if (max !== -Infinity) for (let j = 0; j < Tk; j++) sum += Math.exp(row[j]! - max);
        lse[(b * H + h) * T + i] = max === -Infinity ? -Infinity : max + Math.log(sum);
      }
    }
  }
  return [{ shape: [B, H, T], data: lse }];
};

export const attentionBackward: BackwardFn<AttentionAttrs> = (args) => {
  const { inputs: ins, attrs: a } = args;
  const q = floats(ins[0]!, 'attention q');
  const k = floats(ins[1]!, 'attention k');
  const v = floats(ins[2]!, 'attention v');
  const o = floats(args.output, 'attention output');
  const lse = floats(args.extra[0]!, 'attention logsumexp');
  const dy = dOut(args);
  const { B, T, Tk } = dims(ins);
  const table = relativeTable(ins, a);
  const s = scorer(q, k, table, { T, Tk }, a);
  const { heads: H, kv_heads: K, head_dim: D } = a;
  const group = H / K;
  const scale = attentionScale(a);
  const dtable = table ? new Float64Array(table.length) : null;
  const z = dropoutScale(a.dropout, a.stream ?? 0, args.rng);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const m = lse[(b * H + h) * T + i]!;
        if (m === -Infinity) continue; // no visible key: the output was 0 whatever q, k, v
        const qo = (b * T + i) * H * D + h * D;
        let Di = 0;
        for (let d = 0; d < D; d++) Di += dy[qo + d]! * o[qo + d]!;
        const row = ((b * H + h) * T + i) * Tk; // mask index of (b, h, i, 0), as the forward
        for (let j = 0; j < Tk; j++) {
          const sij = s.score(b, h, i, j);
          if (sij === -Infinity) continue;
          const p = Math.exp(sij - m);
          const zij = z ? z(row + j) : 1;
          const kvo = (b * Tk + j) * K * D + g * D;
          let dp = 0;
          for (let d = 0; d < D; d++) {
            dp += dy[qo + d]! * v[kvo + d]!;
            dv[kvo + d] += zij * p * dy[qo + d]!;
          }
          const dsRaw = p * (zij * dp - Di); // d loss / d s_ij (the biased score)
          if (dtable) dtable[t5RelativeBucket(j - i, !a.causal, a.buckets, a.max_distance) * H + h] += dsRaw;
          const ds = dsRaw * scale;
          for (let d = 0; d < D; d++) {
            dq[qo + d] += ds * k[kvo + d]!;
            dk[kvo + d] += ds * q[qo + d]!;
          }
        }
      }
    }
  }
  const grads = [stored(ins[0]!.shape, dq), stored(ins[1]!.shape, dk), stored(ins[2]!.shape, dv)];
  return dtable ? [...grads, stored(ins[3]!.shape, dtable)] : grads;
};

/**
 * RoPE is a rotation by p·θᵢ of each pair (i, i + R/2); its transpose rotates dout back by
 * −p·θᵢ:  dx[i] = dy[i]·cos + dy[i + R/2]·sin,  dx[i + R/2] = dy[i + R/2]·cos − dy[i]·sin.
 * Dims past rotary_dims pass dout through; positions get no cotangent.
 */
export const ropeBackward: BackwardFn<OpAttrs['rope']> = (args) => {
  const [x, positions] = args.inputs as [Tensor, Tensor];
  const pos = positions.data as Int32Array;
  const dy = dOut(args);
  const [B, T] = x.shape as [number, number, number];
  const { heads: H, head_dim: D, rotary_dims: R, base } = args.attrs;
  const half = R / 2;
  const invFreq = Array.from({ length: half }, (_, i) => base ** ((-2 * i) / R));
  const dx = Float32Array.from(dy);
  for (let t = 0; t < T; t++) {
    const cos = invFreq.map((f) => Math.cos(pos[t]! * f));
    const sin = invFreq.map((f) => Math.sin(pos[t]! * f));
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * D; // (B, T, H, D)
        for (let i = 0; i < half; i++) {
          const d1 = dy[o + i]!;
          const d2 = dy[o + i + half]!;
          dx[o + i] = d1 * cos[i]! + d2 * sin[i]!;
          dx[o + i + half] = d2 * cos[i]! - d1 * sin[i]!;
        }
      }
    }
  }
  return [{ shape: [...x.shape], data: dx }, null];
};
