/**
 * Attention backward, one invocation per output row, each reading the rows it needs itself
 * (any adapter; devices without subgroups; T smaller than a subgroup):
 *  - dq: one invocation per (b, h, query i), i fastest, walking its visible keys j;
 *  - dkv: one invocation per (b, kv head g, key j), j fastest, walking the heads of group g
 *    and, for each, the queries that see j (fixed order: deterministic, no atomics).
 * Both recompute p_ij = exp(scale·q_i·k_j + bias_ij − lse_i) from the forward's lse and keep
 * their D-long rows in private memory; no workgroup memory, no barriers.
 */
import { biasLine, dotOf, dropoutKeyLine, type Emitted, firstKey } from '../attention-common.js';
import { f32, linear, u32 } from '../common.js';
import { dkvTerms, dPOf, dtermAt, endKeyOf, endQueryOf, firstQueryOf, lseAt, type ResolvedBackward } from './attention-bwd-common.js';

/** dq_i = scale · Σ_j p_ij (dO_i·v_j − D_i) k_j. */
export function emitSimpleDq(r: ResolvedBackward, workgroupSize: number): Emitted {
  const { entryPoint, B, Tq, Tk, H, Kh, D4, V, G } = r;
  const lin = linear(entryPoint, B * H * Tq, workgroupSize);
  const NB = r.relative?.buckets ?? 0;
  const main = lin.main(`let t = i % ${u32(Tq)};
  let bh = i / ${u32(Tq)};
  let h = bh % ${u32(H)};
  let b = bh / ${u32(H)};
  let lo = ${firstKey(r, 't')};
  let hi = ${endKeyOf(r, 't')};${r.alibi ? '\n  let slope = ALIBI[h];' : ''}${dropoutKeyLine(r, '  ')}
  let qb = ((b * ${u32(Tq)} + t) * ${u32(H)} + h) * ${u32(D4)};
  let kvb = b * ${u32(Tk * Kh * D4)} + (h / ${u32(G)}) * ${u32(D4)};
  let lse_i = ${lseAt(r, 'i')};
  let dt_i = ${dtermAt(r, 'i')};
  var qs: array<${V}, ${D4}>;
  var os: array<${V}, ${D4}>;
  var acc: array<${V}, ${D4}>;
  for (var d = 0u; d < ${u32(D4)}; d++) {
    qs[d] = q[qb + d] * ${f32(r.scale)};
    os[d] = dout[qb + d];
    acc[d] = ${V}(0.0);
  }${
    NB
      ? `
  var db: array<f32, ${NB}>;  // Σ_j dS_ij per T5 bucket (this row's share of d table)`
      : ''
  }
  for (var j = lo; j < hi; j++) {
    let row = kvb + j * ${u32(Kh * D4)};
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < ${u32(D4)}; d++) {
      s += ${dotOf(r, 'qs[d]', 'k[row + d]')};
      dp += ${dotOf(r, 'os[d]', 'v[row + d]')};
    }${biasLine(r, 's', 't', 'j', '    ')}
    let ds = exp(s - lse_i) * (${dPOf(r, 'dp', 'i', 'j')} - dt_i);
    for (var d = 0u; d < ${u32(D4)}; d++) { acc[d] += ds * k[row + d]; }${NB ? '\n    db[t5_bucket(i32(j) - i32(t))] += ds;' : ''}
  }
  for (var d = 0u; d < ${u32(D4)}; d++) { dq[qb + d] = acc[d] * ${f32(r.scale)}; }${
    NB ? `\n  for (var u = 0u; u < ${u32(NB)}; u++) { dbias[i * ${u32(NB)} + u] = db[u]; }` : ''
  }`);
  return { launch: lin, main };
}

/** dv_j = Σ_{h in g, i} p_ij dO_i;  dk_j = scale · Σ_{h in g, i} p_ij (dO_i·v_j − D_i) q_i. */
export function emitSimpleDkv(r: ResolvedBackward, workgroupSize: number): Emitted {
  const { entryPoint, B, Tq, Tk, H, Kh, D4, V, G } = r;
  const lin = linear(entryPoint, B * Kh * Tk, workgroupSize);
  const terms = dkvTerms(r, '      ');
  const main = lin.main(`let j = i % ${u32(Tk)};
  let bg = i / ${u32(Tk)};
  let g = bg % ${u32(Kh)};
  let b = bg / ${u32(Kh)};
  let lo = ${firstQueryOf(r, 'j')};
  let hi = ${endQueryOf(r, 'j')};
  let kvb = ((b * ${u32(Tk)} + j) * ${u32(Kh)} + g) * ${u32(D4)};${dropoutKeyLine(r, '  ')}
  var ks: array<${V}, ${D4}>;
  var vs: array<${V}, ${D4}>;
  var gk: array<${V}, ${D4}>;
  var gv: array<${V}, ${D4}>;
  for (var d = 0u; d < ${u32(D4)}; d++) {
    ks[d] = k[kvb + d] * ${f32(r.scale)};
    vs[d] = v[kvb + d];
    gk[d] = ${V}(0.0);
    gv[d] = ${V}(0.0);
  }
  for (var hh = 0u; hh < ${u32(G)}; hh++) {
    let h = g * ${u32(G)} + hh;
    let bh = b * ${u32(H)} + h;${r.alibi ? '\n    let slope = ALIBI[h];' : ''}
    for (var t = lo; t < hi; t++) {
      let row = ((b * ${u32(Tq)} + t) * ${u32(H)} + h) * ${u32(D4)};
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < ${u32(D4)}; d++) {
        s += ${dotOf(r, 'q[row + d]', 'ks[d]')};
        dp += ${dotOf(r, 'dout[row + d]', 'vs[d]')};
      }${biasLine(r, 's', 't', 'j', '      ')}
      let p = exp(s - ${lseAt(r, `bh * ${u32(Tq)} + t`)});${terms.wgsl}
      for (var d = 0u; d < ${u32(D4)}; d++) {
        gv[d] += ${terms.pv} * dout[row + d];
        gk[d] += ds * q[row + d];
      }
    }
  }
  for (var d = 0u; d < ${u32(D4)}; d++) {
    dk[kvb + d] = gk[d] * ${f32(r.scale)};
    dv[kvb + d] = gv[d];
  }`);
  return { launch: lin, main };
}
