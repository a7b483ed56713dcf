/**
 * Attention, one invocation per (b, h, t), t fastest: each walks exactly its own visible keys,
 * reading K and V rows itself. Any adapter; used for decode (Tq < a subgroup) and when the
 * device has no subgroups. Keys may be taken in blocks of keyBlock (the block's scores first,
 * then one rescale of the accumulator per block instead of per key).
 */
import {
  biasLine,
  dotOf,
  dropoutKeyLine,
  dropoutZ,
  endKey,
  firstKey,
  kvLenExpr,
  type Emitted,
  type ResolvedAttention,
} from './attention-common.js';
import { f32, linear, NEG, range, u32 } from './common.js';

export function emitSimpleAttention(r: ResolvedAttention, workgroupSize: number): Emitted {
  const { entryPoint, B, Tq, Tk, H, Kh, D4, V, keyBlock: KB } = r;
  const lin = linear(entryPoint, B * H * Tq, workgroupSize);
  const rowStride = u32(Kh * D4);
  const block = range(KB);
  const scores = block
    .map(
      (u) => `    let j${u} = min(j0 + ${u}u, last);
    var s${u} = 0.0;
    for (var d = 0u; d < ${u32(D4)}; d++) { s${u} += ${dotOf(r, 'qs[d]', `k[kvb + j${u} * ${rowStride} + d]`)}; }
    ${biasLine(r, `s${u}`, 'pos', `j${u}`, '    ').trimStart()}${r.alibi || r.relative ? '\n    ' : ''}s${u} = select(${NEG}, s${u}, j0 + ${u}u < hi);`,
    )
    .join('\n');
  const maxExpr = block.slice(1).reduce((e, u) => `max(${e}, s${u})`, 's0');
  const main = lin.main(`let t = i % ${u32(Tq)};
  let bh = i / ${u32(Tq)};
  let h = bh % ${u32(H)};
  let b = bh / ${u32(H)};
  let pos = u_step.offset + t;
  let kv_len = ${kvLenExpr(r)};
  let lo = ${firstKey(r, 'pos')};
  let hi = ${endKey(r, 'pos')};
  let last = max(hi, 1u) - 1u;  // clamps the reads of a partial block${r.alibi ? '\n  let slope = ALIBI[h];' : ''}${dropoutKeyLine(r, '  ')}${r.dropout ? `\n  let drow = i * ${u32(Tk)};  // mask index of (b, h, t, 0)` : ''}
  let qb = ((b * ${u32(Tq)} + t) * ${u32(H)} + h) * ${u32(D4)};
  let kvb = b * ${u32(Tk * Kh * D4)} + (h / ${u32(H / Kh)}) * ${u32(D4)};
  var qs: array<${V}, ${D4}>;
  var acc: array<${V}, ${D4}>;
  for (var d = 0u; d < ${u32(D4)}; d++) {
    qs[d] = q[qb + d] * ${f32(r.scale)};
    acc[d] = ${V}(0.0);
  }
  var m = ${NEG};
  var l = 0.0;
  for (var j0 = lo; j0 < hi; j0 += ${u32(KB)}) {
${scores}
    let mb = max(m, ${maxExpr});
    let corr = exp(m - mb);
${block.map((u) => `    let p${u} = exp(s${u} - mb);`).join('\n')}
    l = l * corr${block.map((u) => ` + p${u}`).join('')};${
      r.dropout ? `\n${block.map((u) => `    let w${u} = p${u} * ${dropoutZ(r, `drow + j${u}`)};`).join('\n')}` : ''
    }
    for (var d = 0u; d < ${u32(D4)}; d++) {
      acc[d] = acc[d] * corr${block.map((u) => ` + ${r.dropout ? 'w' : 'p'}${u} * v[kvb + j${u} * ${rowStride} + d]`).join('')};
    }
    m = mb;
  }
  let inv = select(0.0, 1.0 / l, l > 0.0);  // no visible key (kv_len too small): zeros
  for (var d = 0u; d < ${u32(D4)}; d++) { out[qb + d] = acc[d] * inv; }${
    r.lse
      ? `
  lse[bh * ${u32(Tq)} + t] = m + log(l);`
      : ''
  }`);
  return { launch: lin, main };
}
