/**
 * What the two attention emitters (attention-simple.ts, attention-subgroup.ts) share: the
 * resolved spec, the WGSL for a query's visible key range, and attention-weight dropout.
 */
import { COUNTER_RNG_WGSL } from '../../../../runtime/counter-rng.js';
import { t5RelativeBucket } from '../../../ir/interpret/attention.js';
import { alibiSlopes } from './alibi.js';
import { checkInt, f32, type LaunchSize, u32, vectorized } from './common.js';
import { checkDropout, dropoutFactor } from './dropout.js';

export interface ResolvedAttention {
  entryPoint: string;
  B: number;
  Tq: number;
  Tk: number;
  H: number;
  Kh: number;
  D: number;
  /** Vector width of a head row (4 when D % 4 == 0) and the row length in those units. */
  w: 1 | 4;
  D4: number;
  /** 'vec4<f32>' or 'f32'. */
  V: string;
  causal: boolean;
  window: number | null;
  alibi: boolean;
  /** T5 relative position bias read from the `rel` binding (buckets, H); null: none. */
  relative: RelativeBias | null;
  /** Cross-attention: keys of another sequence (no mask, no positions). */
  cross: boolean;
  /** Every one of the Tk keys is valid: kv_len is Tk, not the Step uniform's (cross-attention, an encoder's source). */
  allKeys: boolean;
  scale: number;
  lse: boolean;
  keyBlock: number;
  /** Training only: attention-weight dropout (0 < p < 1) and its counter-RNG stream; null: none. */
  dropout: AttentionDropout | null;
}

/** T5's bucketed relative position bias (HF `_relative_position_bucket`). */
export interface RelativeBias {
  buckets: number;
  maxDistance: number;
  /** Encoder (bidirectional): half the buckets per sign of j − i; decoder: keys after the query share bucket 0. */
  bidirectional: boolean;
}

export interface AttentionDropout {
  p: number;
  stream: number;
}

/**
 * Weight dropout: the mask element of (b, h, i, j) is ((b·H + h)·T + i)·T + j (training: Tq =
 * Tk = T, query i at position i), the key from the Step uniform (rng_seed, rng_step) and the
 * stream, as compiler/ir/interpret/attention.ts draws it.
 */
export function dropoutKeyLine(r: ResolvedAttention, indent: string): string {
  return r.dropout ? `\n${indent}let dkey = dropout_key(u_step.rng_seed, u_step.rng_step, ${u32(r.dropout.stream)});` : '';
}

/** The WGSL multiplier Z (0 or 1/(1 − p)) of mask element `index`; needs dropoutKeyLine in scope. */
export function dropoutZ(r: ResolvedAttention, index: string): string {
  if (!r.dropout) throw new Error(`internal: ${r.entryPoint} has no dropout`);
  return dropoutFactor(r.dropout.p, 'dkey', index);
}

/**
 * WGSL of T5's bucket of relative position `rel` = j − i (HF `_relative_position_bucket`).
 * Distances below max_exact get a bucket each; the log-spaced buckets above are found by
 * comparing with integer thresholds computed here from the interpreter's bucket function (the
 * float32 log rounding as torch computes it), so the GPU never evaluates a log and cannot
 * land on the other side of a bucket boundary.
 */
export function t5BucketWgsl(rb: RelativeBias): string {
  const n = rb.bidirectional ? Math.floor(rb.buckets / 2) : rb.buckets;
  const maxExact = Math.floor(n / 2);
  // HF divides by log(max_distance / max_exact): at or below max_exact its buckets are not defined.
  if (!(maxExact >= 1 && rb.maxDistance > maxExact))
    throw new Error(
      `T5 relative bias: max_distance ${rb.maxDistance} must exceed the ${maxExact} exact buckets (${rb.buckets} buckets, ${rb.bidirectional ? 'bidirectional' : 'causal'})`,
    );
  // Keys at or before the query (rel = −dist): no sign offset in either mode.
  const bucketOf = (dist: number) => t5RelativeBucket(-dist, rb.bidirectional, rb.buckets, rb.maxDistance);
  // thresholds[k]: the first distance whose bucket (of keys at or before the query) is past maxExact + k.
  const thresholds: number[] = [];
  for (let dist = maxExact, b = maxExact; b < n - 1 && dist <= rb.maxDistance; dist++) {
    const now = bucketOf(dist);
    while (b < now) {
      thresholds.push(dist);
      b++;
    }
  }
  const large = thresholds.map((d) => `select(0u, 1u, dist >= ${u32(d)})`);
  const sign = rb.bidirectional
    ? `let base = select(0u, ${u32(n)}, rel > 0);
  let dist = u32(abs(rel));`
    : `let base = 0u;
  let dist = u32(max(-rel, 0));`;
  return `// T5 relative-position bucket of rel = j − i (${rb.bidirectional ? 'bidirectional' : 'unidirectional'}, ${rb.buckets} buckets, max_distance ${rb.maxDistance})
fn t5_bucket(rel: i32) -> u32 {
  ${sign}
  if (dist < ${u32(maxExact)}) { return base + dist; }
  return base + ${u32(maxExact)}${large.map((x) => ` + ${x}`).join('')};
}`;
}

/** Module-scope declarations: the ALiBi slopes, the T5 bucket function and the counter-based hash, as needed. */
export function attentionPrelude(r: ResolvedAttention): string | undefined {
  const parts = [
    ...(r.alibi ? [`const ALIBI = array<f32, ${r.H}>(${alibiSlopes(r.H).map(f32).join(', ')});`] : []),
    ...(r.relative ? [t5BucketWgsl(r.relative)] : []),
    ...(r.dropout ? [COUNTER_RNG_WGSL] : []),
  ];
  return parts.length ? parts.join('\n\n') : undefined;
}

/** What the forward (attention.ts) and backward (attention-bwd.ts) specs share; the backward's must equal the forward's. */
export interface AttentionShape {
  heads: number;
  /** Divides heads (heads for MHA, 1 for MQA). */
  kv_heads: number;
  /** <= 256 (head rows live in private memory). */
  head_dim: number;
  causal: boolean;
  /** Sliding window in tokens; null/absent: every key. Causal: i − window < j <= i; otherwise |i − j| < window. */
  window?: number | null;
  alibi?: boolean;
  /** T5 relative position bias: binds `rel` (buckets, heads), bias rel[bucket(j − i), h] (the backward's dq also writes `dbias`). */
  relative?: RelativeBias | null;
  /**
   * Cross-attention: the keys are another sequence's (the encoder output, S rows), all valid;
   * never causal, no window, no positions. The Step uniform's kv_len is not read.
   */
  cross?: boolean;
  /** Score scale; default 1/sqrt(head_dim). */
  scale?: number;
  /**
   * Training only (Tq = Tk, offset 0): attention-weight dropout, O = Σ_j Z_ij·P_ij·V_j with P
   * the full softmax (lse unchanged) and Z the counter-based mask, which the backward redraws
   * from the Step uniform (same p and stream). p = 0 means none.
   */
  dropout?: AttentionDropout | null;
  /**
   * GpuContext.subgroupMinSize when 'subgroups' is enabled; 0/absent: none. With 4..64 and
   * the queries (backward: queries and keys) >= it, the subgroup variant is chosen.
   */
  subgroupMinSize?: number;
  /** Force an emitter (tests, tuning); default: subgroup when possible, else simple. */
  variant?: 'simple' | 'subgroup';
}

/**
 * Checks and resolves the fields the forward (attention.ts) and backward (attention-bwd.ts)
 * kernels share, and picks the emitter: subgroup when subgroupMinSize is in [4, 64] and
 * `rows` (the rows a subgroup shares) reach it, else simple.
 */
export function resolveShape(
  entryPoint: string,
  spec: AttentionShape,
  rows: number,
): {
  shape: Omit<ResolvedAttention, 'entryPoint' | 'B' | 'Tq' | 'Tk' | 'allKeys' | 'lse' | 'keyBlock'>;
  SG: number;
  variant: 'simple' | 'subgroup';
} {
  const { heads: H, kv_heads: Kh, head_dim: D, causal } = spec;
  const window = spec.window ?? null;
  if (window !== null) checkInt(entryPoint, 'window', window);
  const cross = spec.cross ?? false;
  const relative = spec.relative ?? null;
  if (cross && (causal || window !== null || spec.alibi || relative))
    throw new Error(`${entryPoint}: cross-attention is never causal and has no window or positions`);
  if (relative && spec.alibi) throw new Error(`${entryPoint}: ALiBi and a relative bias exclude each other`);
  if (relative) {
    checkInt(entryPoint, 'buckets', relative.buckets);
    checkInt(entryPoint, 'maxDistance', relative.maxDistance);
  }
  if (H % Kh !== 0) throw new Error(`${entryPoint}: heads ${H} must be a multiple of kv_heads ${Kh}`);
  if (D > 256) throw new Error(`${entryPoint}: head_dim ${D} is over 256 (head rows live in private memory); use more heads`);
  const scale = spec.scale ?? 1 / Math.sqrt(D);
  f32(scale); // finite
  const d = spec.dropout;
  const dropout = d && d.p !== 0 ? d : null;
  if (dropout) checkDropout(entryPoint, dropout.p, dropout.stream);
  const SG = spec.subgroupMinSize ?? 0;
  const canShare = SG >= 4 && SG <= 64;
  const variant = spec.variant ?? (canShare && rows >= SG ? 'subgroup' : 'simple');
  if (variant === 'subgroup' && !canShare)
    throw new Error(`${entryPoint}: the subgroup variant needs subgroupMinSize in [4, 64], got ${SG}`);
  const { w, V, units: D4 } = vectorized(D);
  return {
    shape: { H, Kh, D, w, D4, V, causal, window, alibi: spec.alibi ?? false, relative, cross, scale, dropout },
    SG,
    variant,
  };
}

/** An emitter's launch and entry point (forward: attention-simple.ts, attention-subgroup.ts; backward: backward/attention-bwd-*.ts). */
export interface Emitted {
  launch: LaunchSize;
  main: string;
}

/** `dot` of two head-row units (vec4 or scalar). */
export function dotOf(r: ResolvedAttention, a: string, b: string): string {
  return r.w === 4 ? `dot(${a}, ${b})` : `${a} * ${b}`;
}

/** First visible key of the query at absolute position `pos` (a WGSL u32 expression): j > pos − window, causal or not. */
export function firstKey(r: ResolvedAttention, pos: string): string {
  return r.window !== null ? `select(0u, ${pos} + 1u - ${r.window}u, ${pos} + 1u > ${r.window}u)` : '0u';
}

/** One past the last visible key of the query at `pos`, given `kv_len` in scope: causal j <= pos; a bidirectional window j < pos + window. */
export function endKey(r: ResolvedAttention, pos: string): string {
  if (r.causal) return `min(kv_len, ${pos} + 1u)`;
  return r.window !== null ? `min(kv_len, ${pos} + ${u32(r.window)})` : 'kv_len';
}

/** The WGSL `kv_len` of a forward kernel: all Tk rows (cross-attention, an encoder's source), else the Step uniform's (at most Tk). */
export function kvLenExpr(r: ResolvedAttention): string {
  return r.allKeys ? u32(r.Tk) : `min(u_step.kv_len, ${u32(r.Tk)})`;
}

/**
 * `score += bias` for query position `i` and key `j` (u32 WGSL expressions), head `h` in
 * scope: ALiBi −slope·|i − j| (symmetric, so right for bidirectional attention too; needs
 * `slope` in scope) or the T5 table entry rel[bucket(j − i), h]; nothing without positions.
 */
export function biasLine(r: ResolvedAttention, score: string, i: string, j: string, indent: string): string {
  if (r.alibi) return `\n${indent}${score} -= slope * abs(f32(${i}) - f32(${j}));  // ALiBi −slope_h·|i − j|: symmetric when non-causal`;
  if (r.relative) return `\n${indent}${score} += rel[t5_bucket(i32(${j}) - i32(${i})) * ${u32(r.H)} + h];  // T5 bias[bucket(j − i), h]`;
  return '';
}
