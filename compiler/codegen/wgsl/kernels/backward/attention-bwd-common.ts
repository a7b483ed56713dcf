/**
 * What the attention-backward emitters (attention-bwd-simple.ts, attention-bwd-subgroup.ts)
 * share: the resolved spec and the WGSL for the visible key range of a query and the visible
 * query range of a key, for the training shapes (Tq = Tk = T, offset 0, every key valid).
 */
import { endKey, firstKey, type ResolvedAttention } from '../attention-common.js';
import { u32 } from '../common.js';

/** The forward's resolved spec with Tq = Tk = T, plus the query heads per kv head. */
export interface ResolvedBackward extends ResolvedAttention {
  T: number;
  /** H / Kh: query heads h = g·G … g·G + G − 1 read kv head g. */
  G: number;
}

/** First visible key of query `pos` (a WGSL u32 expression). */
export function firstKeyOf(r: ResolvedBackward, pos: string): string {
  return firstKey(r, pos);
}

/** One past the last visible key of query `pos`. */
export function endKeyOf(r: ResolvedBackward, pos: string): string {
  return endKey(r, pos).replace('kv_len', u32(r.T));
}

/** First query that sees key `j`: causal queries i >= j; non-causal every query. */
export function firstQueryOf(r: ResolvedBackward, j: string): string {
  return r.causal ? j : '0u';
}

/** One past the last query that sees key `j`: with a window w, queries i < j + w. */
export function endQueryOf(r: ResolvedBackward, j: string): string {
  return r.window !== null ? `min(${u32(r.T)}, ${j} + ${u32(r.window)})` : u32(r.T);
}

/** `score -= slope·|i − j|` as the forward kernel biases (ALiBi), or nothing. */
export function alibiLine(r: ResolvedBackward, score: string, i: string, j: string, indent: string): string {
  return r.alibi ? `\n${indent}${score} -= slope * abs(f32(${i}) - f32(${j}));  // ALiBi: −slope_h·|i − j|, as the forward` : '';
}
