/**
 * Attention with K and V rows shared through subgroup broadcasts, for prefill and training
 * (Tq >= the subgroup size). A workgroup is one subgroup of SG lanes = SG consecutive queries
 * of one (b, h); the workgroup walks the union of their visible keys (bounds from the
 * workgroup id and the Step uniform, so the loop is uniform) and masks per lane. For each key,
 * lane l loads units l, l + SG, ... of the K row and subgroupBroadcast hands every unit to all
 * lanes; likewise V. On lavapipe a storage load costs ~10 instructions per lane while a
 * broadcast from a constant lane is a register shuffle, so this cuts the loads per key from
 * 2·D/4 to 2·ceil(D/4/SG) per lane.
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
import { f32, grid, NEG, range, u32 } from './common.js';

/** Row sharing, forward and backward: `load` reads lane lid's units of `buf` at `row`, `bcast` hands unit d to all lanes. */
export function sharing({ D4 }: { D4: number }, SG: number) {
  const chunks = Math.ceil(D4 / SG);
  const units = range(D4);
  const load = (buf: string, indent: string) =>
    Array.from(
      { length: chunks },
      (_, c) => `let ${buf}${c} = ${buf}[row + min(${c > 0 ? `${c * SG}u + ` : ''}lid, ${u32(D4 - 1)})];`,
    ).join(`\n${indent}`);
  const bcast = (buf: string, d: number) => `subgroupBroadcast(${buf}${Math.floor(d / SG)}, ${d % SG}u)`;
  return { units, load, bcast };
}

export function emitSubgroupAttention(r: ResolvedAttention, SG: number): Emitted {
  const { entryPoint, B, Tq, Tk, H, Kh, D4, V } = r;
  const tiles = Math.ceil(Tq / SG);
  const g = grid(entryPoint, B * H * tiles, SG);
  const { units, load, bcast } = sharing(r, SG);
  const score = units.map((d) => dotOf(r, `q${d}`, bcast('k', d))).join('\n      + ');
  const main = g.main(`let bh = wg / ${u32(tiles)};
  let t0 = (wg % ${u32(tiles)}) * ${u32(SG)};
  let h = bh % ${u32(H)};
  let b = bh / ${u32(H)};
  let live = t0 + lid < ${u32(Tq)};
  let t = min(t0 + lid, ${u32(Tq - 1)});
  let pos = u_step.offset + t;
  let kv_len = ${kvLenExpr(r)};
  let lo = ${firstKey(r, 'pos')};
  let hi = ${endKey(r, 'pos')};
  // The keys any lane of this workgroup sees: uniform (from wid and the uniform only).${
    r.window !== null
      ? `
  let first_pos = u_step.offset + t0;`
      : ''
  }${
    r.causal || r.window !== null
      ? `
  let last_pos = u_step.offset + min(t0 + ${u32(SG)}, ${u32(Tq)}) - 1u;`
      : ''
  }
  let tile_lo = ${firstKey(r, 'first_pos')};
  let tile_hi = ${endKey(r, 'last_pos')};${r.alibi ? '\n  let slope = ALIBI[h];' : ''}${dropoutKeyLine(r, '  ')}${
    r.dropout ? `\n  let drow = (bh * ${u32(Tq)} + t) * ${u32(Tk)};  // mask index of (b, h, t, 0)` : ''
  }
  let qb = ((b * ${u32(Tq)} + t) * ${u32(H)} + h) * ${u32(D4)};
  let kvb = b * ${u32(Tk * Kh * D4)} + (h / ${u32(H / Kh)}) * ${u32(D4)};
${units.map((d) => `  let q${d} = q[qb + ${u32(d)}] * ${f32(r.scale)};`).join('\n')}
${units.map((d) => `  var a${d} = ${V}(0.0);`).join('\n')}
  var m = ${NEG};
  var l = 0.0;
  for (var j = tile_lo; j < tile_hi; j++) {
    let row = kvb + j * ${u32(Kh * D4)};
    ${load('k', '    ')}
    var s = ${score};${biasLine(r, 's', 'pos', 'j', '    ')}
    let ok = j >= lo && j < hi;
    s = select(${NEG}, s, ok);
    let mb = max(m, s);
    let corr = exp(m - mb);
    let p = select(0.0, exp(s - mb), ok);  // exp(NEG − NEG) would be 1: mask explicitly
    l = l * corr + p;${r.dropout ? `\n    let w = p * ${dropoutZ(r, 'drow + j')};` : ''}
    ${load('v', '    ')}
${units.map((d) => `    a${d} = a${d} * corr + ${r.dropout ? 'w' : 'p'} * ${bcast('v', d)};`).join('\n')}
    m = mb;
  }
  if (live) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
${units.map((d) => `    out[qb + ${u32(d)}] = a${d} * inv;`).join('\n')}${
    r.lse
      ? `
    lse[bh * ${u32(Tq)} + t] = m + log(l);`
      : ''
  }
  }`);
  return { launch: g, main };
}
