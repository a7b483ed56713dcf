/**
 * The backward of fused attention (attention.ts), FlashAttention-2 style: the T×T weights are
 * never stored but recomputed from Q, K and the forward's lse (B, H, T):
 *   p_ij = exp(scale·q_i·k_j + bias_ij − lse_i)        over the keys query i sees
 *   D_i  = Σ_d dO_i·O_i                                  (generateAttentionBackwardPre)
 *   dq_i = scale · Σ_j p_ij (dO_i·v_j − D_i) k_j          (generateAttentionBackwardDq)
 *   dv_j = Σ_{h in g} Σ_i p_ij dO_i
 *   dk_j = scale · Σ_{h in g} Σ_i p_ij (dO_i·v_j − D_i) q_i  (generateAttentionBackwardDkv)
 * for the training shapes: offset 0, every key valid (no Step uniform); T queries over S keys
 * (S = T for self-attention, the encoder length for cross-attention). Layouts as the forward:
 * Q, O, dO, dq (B, T, H·D); K, V, dk, dv (B, S, Kh·D); lse, D (B, H, T).
 * Visibility, GQA/MQA grouping (query head h reads kv head floor(h·Kh/H)), the default scale
 * 1/sqrt(D) (or the spec's, e.g. 1 for T5), the ALiBi bias −slope_h·|i − j| and the T5
 * relative bias rel[bucket(j − i), h] are the forward's. With the relative bias the dq kernel
 * also writes each row's Σ_j dS_ij per bucket (dbias, (B, H, T, buckets)) and
 * generateRelativeBiasGrad sums those rows into d table (buckets, H). dk/dv of a kv head sum over
 * the H/Kh query heads of its group inside the kernel in a fixed order: deterministic, no
 * atomics. Each kernel writes every element of its outputs (no zero-fill needed).
 *
 * With attention-weight dropout (the forward computed O_i = Σ_j Z_ij p_ij v_j, Z the counter-
 * based mask redrawn here from the Step uniform): dv_j = Σ_i Z_ij p_ij dO_i, and dO_i·v_j
 * becomes dP_ij = Z_ij (dO_i·v_j) in dq and dk; D_i = dO_i·O_i is unchanged (= Σ_j p_ij dP_ij).
 *
 * Two emitters (same results; tests check both): attention-bwd-simple.ts (one invocation per
 * row; any adapter) and attention-bwd-subgroup.ts (a subgroup of SG rows shares each K/V or
 * Q/dO row by subgroupBroadcast; when subgroupMinSize is in [4, 64] and T >= it).
 */
import type { KernelTuning, WgslKernel } from '../../kernel-types.js';
import { type AttentionShape, attentionPrelude, type Emitted, resolveShape } from '../attention-common.js';
import { assemble, Bindings, checkInt, entryName, linear, u32, vectorized } from '../common.js';
import type { ResolvedBackward } from './attention-bwd-common.js';
import { emitSimpleDkv, emitSimpleDq } from './attention-bwd-simple.js';
import { emitSubgroupDkv, emitSubgroupDq } from './attention-bwd-subgroup.js';

export interface AttentionBackwardPreSpec {
  B: number;
  T: number;
  heads: number;
  head_dim: number;
  /**
   * Pack (lse, D) per row into `stats` (B, H, T, 2), reading the forward's lse, instead of
   * writing `dterm` (the backward kernels of a relative bias, which are out of storage bindings otherwise).
   */
  stats?: boolean;
  /** Default 'gpu': workgroups of 64; 'cpu' 8 (lavapipe's SIMD width). */
  tuning?: KernelTuning;
  /** Entry point; default 'attention_bwd_pre'. */
  name?: string;
}

/** The shared fields (heads, masks, positions, scale, dropout, emitter) are the forward's: attention-common.ts's AttentionShape. */
export interface AttentionBackwardSpec extends AttentionShape {
  B: number;
  /** Queries per batch entry (training: no KV cache, offset 0). */
  T: number;
  /** Keys per batch entry; default T (self-attention). Cross-attention: the encoder length. */
  S?: number;
  /** Default 'gpu'. The simple variant: 'cpu' workgroups of 8, 'gpu' 64. */
  tuning?: KernelTuning;
  /** Entry point; default 'attention_bwd_dq' / 'attention_bwd_dkv'. */
  name?: string;
}

const FUSES = ['attention_backward'];

/** Bindings: out [B, T, H·D], dout [B, T, H·D], dterm [B, H, T] (written); with stats: out, dout, lse [B, H, T], stats [B, H, T, 2] (written). */
export function generateAttentionBackwardPre(spec: AttentionBackwardPreSpec): WgslKernel {
  const entryPoint = entryName('attention_bwd_pre', spec.name);
  for (const d of ['B', 'T', 'heads', 'head_dim'] as const) checkInt(entryPoint, d, spec[d]);
  const { B, T, heads: H, head_dim: D } = spec;
  const { w, V, units: D4 } = vectorized(D);
  const stats = spec.stats ?? false;
  const b = new Bindings(entryPoint).storage('out', 'read', [B, T, H * D], V).storage('dout', 'read', [B, T, H * D], V);
  if (stats) b.storage('lse', 'read', [B, H, T]).storage('stats', 'read_write', [B, H, T, 2]);
  else b.storage('dterm', 'read_write', [B, H, T]);
  const lin = linear(entryPoint, B * H * T, (spec.tuning ?? 'gpu') === 'cpu' ? 8 : 64);
  const dot = w === 4 ? 'dot(dout[row + d], out[row + d])' : 'dout[row + d] * out[row + d]';
  const main = lin.main(`let t = i % ${u32(T)};
  let bh = i / ${u32(T)};
  let h = bh % ${u32(H)};
  let b = bh / ${u32(H)};
  let row = ((b * ${u32(T)} + t) * ${u32(H)} + h) * ${u32(D4)};
  var acc = 0.0;
  for (var d = 0u; d < ${u32(D4)}; d++) { acc += ${dot}; }
  ${stats ? 'stats[2u * i] = lse[i];\n  stats[2u * i + 1u] = acc;' : 'dterm[i] = acc;'}`);
  return assemble({
    entryPoint,
    fuses: FUSES,
    shapes: { out: [B, T, H * D], dout: [B, T, H * D], ...(stats ? { stats: [B, H, T, 2] } : { dterm: [B, H, T] }) },
    notes: [
      `backward of attention, first pass: D[b, h, i] = Σ_d dO[b, i, h, d]·O[b, i, h, d] (H=${H} D=${D}), one invocation per (b, h, i)` +
        (stats ? '; stats[b, h, i] = (lse, D) packed for the relative-bias kernels' : ''),
      'FLOPs: 2·D per row',
    ],
    bindings: b,
    launch: lin,
    flops: B * H * T * 2 * D,
    main,
  });
}

function resolve(spec: AttentionBackwardSpec, kernel: string): { r: ResolvedBackward; SG: number; variant: 'simple' | 'subgroup' } {
  const entryPoint = entryName(kernel, spec.name);
  for (const d of ['B', 'T', 'heads', 'kv_heads', 'head_dim'] as const) checkInt(entryPoint, d, spec[d]);
  const { B, T } = spec;
  const S = spec.S ?? T;
  checkInt(entryPoint, 'S', S);
  const { shape, SG, variant } = resolveShape(entryPoint, spec, Math.min(T, S));
  if (!shape.cross && S !== T) throw new Error(`${entryPoint}: self-attention has S = T keys, got S ${S}, T ${T}`);
  const r: ResolvedBackward = {
    entryPoint,
    B,
    T,
    Tq: T,
    Tk: S,
    G: shape.H / shape.Kh,
    ...shape,
    allKeys: true,
    lse: true,
    keyBlock: 1,
  };
  if (r.dropout && S !== T) throw new Error(`${entryPoint}: weight dropout is for self-attention (S = T)`);
  return { r, SG, variant };
}

function describe(r: ResolvedBackward): string {
  const visible = r.causal
    ? `j <= i${r.window !== null ? ` and j > i − ${r.window}` : ''}`
    : `every j${r.window !== null ? ` with |i − j| < ${r.window}` : ''}`;
  return (
    `H=${r.H} Kh=${r.Kh} D=${r.D} T=${r.T}${r.cross ? ` S=${r.Tk} (cross-attention)` : ''}; ${r.causal ? 'causal' : 'non-causal'}; query i sees ${visible}; scale ${r.scale}` +
    `${r.alibi ? '; ALiBi bias −slope_h·|i − j|' : ''}${r.relative ? '; T5 relative bias rel[bucket(j − i), h]' : ''}; p_ij = exp(scale·q_i·k_j + bias − lse_i) recomputed, never stored` +
    (r.dropout ? `; weight dropout p = ${r.dropout.p} (stream ${r.dropout.stream}): the forward's mask Z_ij redrawn` : '')
  );
}

function finish(
  r: ResolvedBackward,
  variant: 'simple' | 'subgroup',
  b: Bindings,
  e: Emitted,
  what: string,
  perPair: number,
  how: string,
): WgslKernel {
  const span = r.window === null ? r.Tk : Math.min(r.Tk, r.window);
  return assemble({
    entryPoint: r.entryPoint,
    fuses: FUSES,
    shapes: { q: [r.B, r.T, r.H * r.D], k: [r.B, r.Tk, r.Kh * r.D], v: [r.B, r.Tk, r.Kh * r.D] },
    notes: [
      `backward of attention: ${what}`,
      describe(r),
      `${how}; no barriers`,
      `FLOPs: ${perPair} per (query, key) over ${span} keys per query (as the forward counts, the causal mask not subtracted)`,
    ],
    bindings: b,
    ...e, // launch and main
    flops: r.B * r.H * r.T * span * perPair,
    prelude: attentionPrelude(r),
    enables: variant === 'subgroup' ? ['subgroups'] : [],
  });
}

/** q, k, v, dout, then lse and dterm (B, H, T), or with a relative bias stats (B, H, T, 2) and the table rel (buckets, H). */
function inputBindings(r: ResolvedBackward): Bindings {
  const { B, T, Tk: S, H, Kh, D, V } = r;
  const b = new Bindings(r.entryPoint)
    .storage('q', 'read', [B, T, H * D], V)
    .storage('k', 'read', [B, S, Kh * D], V)
    .storage('v', 'read', [B, S, Kh * D], V)
    .storage('dout', 'read', [B, T, H * D], V);
  if (!r.relative) b.storage('lse', 'read', [B, H, T]).storage('dterm', 'read', [B, H, T]);
  else b.storage('stats', 'read', [B, H, T, 2]).storage('rel', 'read', [r.relative.buckets, H]);
  return b;
}

/**
 * Bindings: q, k, v, dout, lse [B, H, T], dterm [B, H, T], dq [B, T, H·D] (written). With a
 * relative bias: q, k, v, dout, stats [B, H, T, 2] (pre with stats), rel [buckets, H], dq, and
 * dbias [B, H, T, buckets] (written: Σ_j dS_ij per bucket, for generateRelativeBiasGrad).
 */
export function generateAttentionBackwardDq(spec: AttentionBackwardSpec): WgslKernel {
  const { r, SG, variant } = resolve(spec, 'attention_bwd_dq');
  const { B, T, H, D, V } = r;
  const b = inputBindings(r).storage('dq', 'read_write', [B, T, H * D], V);
  if (r.relative) b.storage('dbias', 'read_write', [B, H, T, r.relative.buckets]);
  if (r.dropout) b.step();
  const e = variant === 'subgroup' ? emitSubgroupDq(r, SG) : emitSimpleDq(r, (spec.tuning ?? 'gpu') === 'cpu' ? 8 : 64);
  return finish(
    r,
    variant,
    b,
    e,
    'dq_i = scale · Σ_j p_ij (dO_i·v_j − D_i) k_j',
    6 * D + 6,
    variant === 'subgroup'
      ? `a subgroup of ${SG} consecutive queries of one (b, h) per workgroup shares each K/V row by subgroupBroadcast`
      : 'one invocation per (b, h, i)',
  );
}

/** Bindings: q, k, v, dout, lse [B, H, T], dterm [B, H, T] (relative bias: stats, rel as dq), dk and dv [B, S, Kh·D] (written). */
export function generateAttentionBackwardDkv(spec: AttentionBackwardSpec): WgslKernel {
  const { r, SG, variant } = resolve(spec, 'attention_bwd_dkv');
  const { B, Tk: S, Kh, D, V } = r;
  const b = inputBindings(r)
    .storage('dk', 'read_write', [B, S, Kh * D], V)
    .storage('dv', 'read_write', [B, S, Kh * D], V);
  if (r.dropout) b.step();
  const e = variant === 'subgroup' ? emitSubgroupDkv(r, SG) : emitSimpleDkv(r, (spec.tuning ?? 'gpu') === 'cpu' ? 8 : 64);
  return finish(
    r,
    variant,
    b,
    e,
    `dv_j = Σ_{h in group, i} p_ij dO_i, dk_j = scale · Σ p_ij (dO_i·v_j − D_i) q_i; the ${r.G} query heads of each kv head summed in the kernel in order`,
    8 * D + 6,
    variant === 'subgroup'
      ? `a subgroup of ${SG} consecutive keys of one (b, kv head) per workgroup shares each Q/dO row by subgroupBroadcast`
      : 'one invocation per (b, kv head, j)',
  );
}
