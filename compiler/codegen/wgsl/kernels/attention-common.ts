/**
 * What the two attention emitters (attention-simple.ts, attention-subgroup.ts) share: the
 * resolved spec, the WGSL for a query's visible key range, and attention-weight dropout.
 */
import { COUNTER_RNG_WGSL } from '../../../../runtime/counter-rng.js';
import { alibiSlopes } from './alibi.js';
import { f32, u32 } from './common.js';
import { dropoutFactor } from './dropout.js';

/** A finite "−∞" for masked scores: exp(NEG − m) is 0 for any real m, and NEG − NEG is not NaN. */
export const NEG = '-3.0e38';

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
  scale: number;
  lse: boolean;
  keyBlock: number;
  /** Training only: attention-weight dropout (0 < p < 1) and its counter-RNG stream; null: none. */
  dropout: AttentionDropout | null;
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

/** Module-scope declarations: the ALiBi slopes and the counter-based hash, as needed. */
export function attentionPrelude(r: ResolvedAttention): string | undefined {
  const parts = [
    ...(r.alibi ? [`const ALIBI = array<f32, ${r.H}>(${alibiSlopes(r.H).map(f32).join(', ')});`] : []),
    ...(r.dropout ? [COUNTER_RNG_WGSL] : []),
  ];
  return parts.length ? parts.join('\n\n') : undefined;
}

/** Checks a spec's dropout: p in [0, 1) and a u32 stream; p = 0 means none. */
export function resolveDropout(entryPoint: string, d: AttentionDropout | null | undefined): AttentionDropout | null {
  if (!d || d.p === 0) return null;
  if (!(d.p > 0 && d.p < 1)) throw new Error(`${entryPoint}: dropout p must be in [0, 1), got ${d.p}`);
  if (!Number.isInteger(d.stream) || d.stream < 0 || d.stream > 0xffffffff) throw new Error(`${entryPoint}: dropout stream must be a u32`);
  return d;
}

/** `dot` of two head-row units (vec4 or scalar). */
export function dotOf(r: ResolvedAttention, a: string, b: string): string {
  return r.w === 4 ? `dot(${a}, ${b})` : `${a} * ${b}`;
}

/** First visible key of the query at absolute position `pos` (a WGSL u32 expression). */
export function firstKey(r: ResolvedAttention, pos: string): string {
  return r.window !== null ? `select(0u, ${pos} + 1u - ${r.window}u, ${pos} + 1u > ${r.window}u)` : '0u';
}

/** One past the last visible key of the query at `pos`, given `kv_len` in scope. */
export function endKey(r: ResolvedAttention, pos: string): string {
  return r.causal ? `min(kv_len, ${pos} + 1u)` : 'kv_len';
}
