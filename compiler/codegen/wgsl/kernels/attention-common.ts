/**
 * What the two attention emitters (attention-simple.ts, attention-subgroup.ts) share: the
 * resolved spec and the WGSL for a query's visible key range.
 */

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
