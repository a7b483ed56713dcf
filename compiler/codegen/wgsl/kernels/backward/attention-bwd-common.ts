/**
 * What the attention-backward emitters (attention-bwd-simple.ts, attention-bwd-subgroup.ts)
 * share: the resolved spec and the WGSL for the visible key range of a query and the visible
 * query range of a key, for the training shapes (offset 0, every key valid; Tq = Tk = T for
 * self-attention, Tq = T queries over Tk = S keys for cross-attention).
 */
import { dropoutZ, endKey, firstKey, type ResolvedAttention } from '../attention-common.js';
import { u32 } from '../common.js';

/** The forward's resolved spec (T = Tq queries, Tk keys), plus the query heads per kv head. */
export interface ResolvedBackward extends ResolvedAttention {
  T: number;
  /** H / Kh: query heads h = g·G … g·G + G − 1 read kv head g. */
  G: number;
}

/** One past the last visible key of query `pos` (a WGSL u32 expression); the first is attention-common.ts's firstKey. */
export function endKeyOf(r: ResolvedBackward, pos: string): string {
  return endKey(r, pos).replace('kv_len', u32(r.Tk));
}

/** First query that sees key `j`: causal queries i >= j; a bidirectional window i > j − w; else every query. */
export function firstQueryOf(r: ResolvedBackward, j: string): string {
  return r.causal ? j : firstKey(r, j);
}

/** One past the last query that sees key `j`: with a window w (causal or not), queries i < j + w. */
export function endQueryOf(r: ResolvedBackward, j: string): string {
  return r.window !== null ? `min(${u32(r.Tq)}, ${j} + ${u32(r.window)})` : u32(r.Tq);
}

/**
 * The forward's log-sum-exp and D_i = dO_i·O_i of row `idx`. WebGPU allows 8 storage buffers
 * per kernel; the relative bias adds the table (and dq its per-bucket sums), so then the pre
 * pass packs both per row into one `stats` buffer (B, H, T, 2) instead of lse and dterm.
 */
export function lseAt(r: ResolvedBackward, idx: string): string {
  return r.relative ? `stats[2u * (${idx})]` : `lse[${idx}]`;
}

export function dtermAt(r: ResolvedBackward, idx: string): string {
  return r.relative ? `stats[2u * (${idx}) + 1u]` : `dterm[${idx}]`;
}

/** dP_ij of (query row `row` = bh·T + t, key `j`): `dp` = dO_i·v_j, times the forward's mask Z_ij under weight dropout. */
export function dPOf(r: ResolvedBackward, dp: string, row: string, j: string): string {
  return r.dropout ? `${dp} * ${dropoutZ(r, `(${row}) * ${u32(r.Tk)} + ${j}`)}` : dp;
}

/**
 * The dk/dv kernels' lines after `p` and `dp` of (query row bh·T + t, key j): ds = p·(dP − D_i)
 * and, under weight dropout, pz = p·Z_ij; `pv` names dv's weight (pz, else p).
 */
export function dkvTerms(r: ResolvedBackward, indent: string): { wgsl: string; pv: string } {
  const row = `bh * ${u32(r.Tq)} + t`;
  const dt = dtermAt(r, row);
  if (!r.dropout) return { wgsl: `\n${indent}let ds = p * (dp - ${dt});`, pv: 'p' };
  const z = dropoutZ(r, `(${row}) * ${u32(r.Tk)} + j`);
  return { wgsl: `\n${indent}let z = ${z};\n${indent}let ds = p * (dp * z - ${dt});\n${indent}let pz = p * z;`, pv: 'pz' };
}
