/**
 * Fused multi-head attention with an online softmax (FlashAttention's recurrence), never
 * materialising the Tq×Tk scores:
 *   O[b, t, h, :] = Σ_j softmax_j(q·k_j / sqrt(D) + bias(h, i, j)) · v_j
 * Layouts (row-major f32): Q and O (B, Tq, H·D); K and V (B, Tk, Kh·D) where Tk is the
 * capacity (a KV cache holds `context` rows) and only the first kv_len rows (Step uniform)
 * are valid. Query t sits at absolute position i = offset + t (Step uniform) and sees keys
 *   causal:      j <= i  (and j > i − window with a sliding window)
 *   non-causal:  every j < kv_len  (and |i − j| < window with a window, as the interpreter)
 *   cross:       every j < Tk (keys of another sequence, S = Tk of them; kv_len not read)
 * GQA/MQA: head h reads kv head floor(h·Kh/H). ALiBi: bias = −slope_h·|i − j| (symmetric, so
 * bidirectional attention is right too). T5 relative bias: rel[bucket(j − i), h] from a
 * (buckets, H) table bound as `rel`. Scale: 1/√D by default; T5 passes 1 (unscaled).
 *
 * Usable for encoders and encoder–decoders (issue 10): bidirectional (causal false, optional
 * window), cross-attention (cross: true, Tk = S), relative bias and any scale.
 *
 * Two emitters (same results; tests check both):
 *  - attention-simple.ts: one invocation per (b, h, t), each reading its own K/V rows. Any
 *    adapter; decode; devices without subgroups.
 *  - attention-subgroup.ts: a subgroup of SG consecutive queries shares each K/V row through
 *    subgroupBroadcast (prefill/training when subgroupMinSize is known and Tq >= SG).
 * Both keep q, the running max, the denominator and a D-long accumulator in private memory
 * and use no workgroup memory and no barriers (what lavapipe runs best).
 */
import type { KernelTuning, WgslKernel } from '../kernel-types.js';
import { type AttentionShape, attentionPrelude, type ResolvedAttention, resolveShape } from './attention-common.js';
import { emitSimpleAttention } from './attention-simple.js';
import { emitSubgroupAttention } from './attention-subgroup.js';
import { assemble, Bindings, checkInt, entryName } from './common.js';

/** The shared fields (heads, masks, positions, scale, dropout, emitter) are attention-common.ts's AttentionShape. */
export interface AttentionSpec extends AttentionShape {
  B: number;
  /** Queries per batch entry (T for training/prefill, 1 for decode). */
  Tq: number;
  /** Rows of K and V per batch entry (T without a cache; the context length with one). */
  Tk: number;
  /**
   * Every one of the Tk rows is a valid key (the Step uniform's kv_len is not read): an
   * encoder's self-attention over the source, whose length S is not the Step's T. Implied by cross.
   */
  allKeys?: boolean;
  /** Also write lse (B, H, Tq): each row's log-sum-exp of the scaled scores, for the backward. */
  lse?: boolean;
  /** Default 'gpu'. For the simple variant 'cpu' uses workgroups of 8 (lavapipe's SIMD width), 'gpu' 64. */
  tuning?: KernelTuning;
  /**
   * Keys per online-softmax block (1, 2, 4 or 8); default 1. On lavapipe blocks did not run
   * faster (B=1 T=64 H=4 D=32: 1.25 ms at 1, 1.33 at 4, 0.99 at 8) but cost 2-15x the
   * compile time (LLVM unrolls every block), so blocks are for real GPUs to try.
   */
  keyBlock?: number;
  /** Entry point; default 'attention'. */
  name?: string;
}

/** Bindings: q [B, Tq, H·D], k and v [B, Tk, Kh·D], out [B, Tq, H·D], lse [B, H, Tq] (optional), step (uniform). */
export function generateAttention(spec: AttentionSpec): WgslKernel {
  const entryPoint = entryName('attention', spec.name);
  for (const d of ['B', 'Tq', 'Tk', 'heads', 'kv_heads', 'head_dim'] as const) checkInt(entryPoint, d, spec[d]);
  const { B, Tq, Tk } = spec;
  const KB = spec.keyBlock ?? 1;
  if (![1, 2, 4, 8].includes(KB)) throw new Error(`${entryPoint}: keyBlock must be 1, 2, 4 or 8`);
  const { shape, SG, variant } = resolveShape(entryPoint, spec, Tq);
  const { H, Kh, D, causal, window, relative, cross } = shape;
  const r: ResolvedAttention = {
    entryPoint,
    B,
    Tq,
    Tk,
    ...shape,
    allKeys: cross || (spec.allKeys ?? false),
    lse: spec.lse ?? false,
    keyBlock: KB,
  };
  if (r.dropout && Tq !== Tk) throw new Error(`${entryPoint}: weight dropout is for training (Tq = Tk), got Tq ${Tq}, Tk ${Tk}`);
  const b = new Bindings(entryPoint)
    .storage('q', 'read', [B, Tq, H * D], r.V)
    .storage('k', 'read', [B, Tk, Kh * D], r.V)
    .storage('v', 'read', [B, Tk, Kh * D], r.V)
    .storage('out', 'read_write', [B, Tq, H * D], r.V);
  if (relative) b.storage('rel', 'read', [relative.buckets, H]);
  if (r.lse) b.storage('lse', 'read_write', [B, H, Tq]);
  b.step();
  const emitted = variant === 'subgroup' ? emitSubgroupAttention(r, SG) : emitSimpleAttention(r, (spec.tuning ?? 'gpu') === 'cpu' ? 8 : 64);

  const span = window === null ? Tk : Math.min(Tk, window);
  // Counted as compiler/ir/ops.ts counts attention: every query against `span` keys (the causal mask not subtracted).
  const pairs = B * H * Tq * span;
  const visible = cross
    ? `every j < ${Tk} (cross-attention)`
    : r.allKeys && !causal && window === null
      ? `every j < ${Tk}`
      : causal
        ? `j <= i${window !== null ? ` and j > i − ${window}` : ''}`
        : `every j < kv_len${window !== null ? ` with |i − j| < ${window}` : ''}`;
  return assemble({
    entryPoint,
    fuses: ['attention'],
    shapes: { q: [B, Tq, H * D], k: [B, Tk, Kh * D], v: [B, Tk, Kh * D] },
    notes: [
      `H=${H} Kh=${Kh} D=${D}; ${causal ? 'causal' : 'non-causal'}; query i = offset + t sees ${visible} (kv_len from the Step uniform, at most ${Tk})` +
        `; scale ${r.scale}${r.alibi ? '; ALiBi bias −slope_h·|i − j|' : ''}` +
        (relative ? `; T5 relative bias rel[bucket(j − i), h] (${relative.bidirectional ? 'bidirectional' : 'causal'} buckets)` : '') +
        `${r.lse ? '; lse = row log-sum-exp' : ''}` +
        (r.dropout ? `; weight dropout p = ${r.dropout.p} (stream ${r.dropout.stream}): O = Σ_j Z_ij·P_ij·V_j` : ''),
      variant === 'subgroup'
        ? `online softmax; a subgroup of ${SG} queries shares each K/V row by subgroupBroadcast; no barriers`
        : `online softmax, one invocation per (b, h, t), keys in blocks of ${KB}; no barriers`,
      `FLOPs as compiler/ir/ops.ts counts them: 4·D per (query, key) over ${span} keys, the causal mask not subtracted`,
    ],
    bindings: b,
    ...emitted, // launch and main
    flops: pairs * (4 * D + 6),
    prelude: attentionPrelude(r),
    enables: variant === 'subgroup' ? ['subgroups'] : [],
  });
}
