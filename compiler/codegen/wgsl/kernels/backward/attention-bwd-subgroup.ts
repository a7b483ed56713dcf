/**
 * Attention backward with rows shared through subgroup broadcasts (as attention-subgroup.ts
 * does for the forward), for training when the device has subgroups and T >= SG. A workgroup
 * is one subgroup of SG lanes:
 *  - dq: SG consecutive queries of one (b, h) walk the union of their visible keys; lane l
 *    loads units l, l + SG, ... of each K and V row and subgroupBroadcast hands them to all;
 *  - dkv: SG consecutive keys of one (b, kv head g) walk the heads of g and the union of the
 *    queries that see them, sharing each Q and dO row the same way; lse_i and D_i are the
 *    same address for every lane.
 * Loops are bounded by the workgroup id only (uniform); each lane masks its own invisible
 * pairs with p = 0. Rows live in registers (one variable per unit); no barriers.
 */
import { biasLine, dotOf, dropoutKeyLine, type Emitted, firstKey } from '../attention-common.js';
import { sharing } from '../attention-subgroup.js';
import { f32, grid, u32 } from '../common.js';
import { dkvTerms, dPOf, dtermAt, endKeyOf, endQueryOf, firstQueryOf, lseAt, type ResolvedBackward } from './attention-bwd-common.js';

export function emitSubgroupDq(r: ResolvedBackward, SG: number): Emitted {
  const { entryPoint, B, Tq, Tk, H, Kh, D4, V, G } = r;
  const tiles = Math.ceil(Tq / SG);
  const NB = r.relative?.buckets ?? 0;
  const g = grid(entryPoint, B * H * tiles, SG);
  const { units, load, bcast } = sharing(r, SG);
  const main = g.main(`let bh = wg / ${u32(tiles)};
  let t0 = (wg % ${u32(tiles)}) * ${u32(SG)};
  let h = bh % ${u32(H)};
  let b = bh / ${u32(H)};
  let live = t0 + lid < ${u32(Tq)};
  let t = min(t0 + lid, ${u32(Tq - 1)});
  let lo = ${firstKey(r, 't')};
  let hi = ${endKeyOf(r, 't')};
  // The keys any lane of this workgroup sees: uniform (from wid only).
  let tile_lo = ${firstKey(r, 't0')};
  let tile_hi = ${endKeyOf(r, `(min(t0 + ${u32(SG)}, ${u32(Tq)}) - 1u)`)};${r.alibi ? '\n  let slope = ALIBI[h];' : ''}${dropoutKeyLine(r, '  ')}
  let qb = ((b * ${u32(Tq)} + t) * ${u32(H)} + h) * ${u32(D4)};
  let kvb = b * ${u32(Tk * Kh * D4)} + (h / ${u32(G)}) * ${u32(D4)};
  let lse_i = ${lseAt(r, `bh * ${u32(Tq)} + t`)};
  let dt_i = ${dtermAt(r, `bh * ${u32(Tq)} + t`)};
${units.map((d) => `  let q${d} = q[qb + ${u32(d)}] * ${f32(r.scale)};`).join('\n')}
${units.map((d) => `  let o${d} = dout[qb + ${u32(d)}];`).join('\n')}
${units.map((d) => `  var a${d} = ${V}(0.0);`).join('\n')}${NB ? `\n  var db: array<f32, ${NB}>;  // Σ_j dS_ij per T5 bucket (this row's share of d table)` : ''}
  for (var j = tile_lo; j < tile_hi; j++) {
    let row = kvb + j * ${u32(Kh * D4)};
    ${load('k', '    ')}
    ${load('v', '    ')}
${units.map((d) => `    let kj${d} = ${bcast('k', d)};`).join('\n')}
    var s = ${units.map((d) => dotOf(r, `q${d}`, `kj${d}`)).join('\n      + ')};${biasLine(r, 's', 't', 'j', '    ')}
    let dp = ${units.map((d) => dotOf(r, `o${d}`, bcast('v', d))).join('\n      + ')};
    let p = select(0.0, exp(s - lse_i), j >= lo && j < hi);
    let ds = p * (${dPOf(r, 'dp', `bh * ${u32(Tq)} + t`, 'j')} - dt_i);
${units.map((d) => `    a${d} += ds * kj${d};`).join('\n')}${NB ? '\n    db[t5_bucket(i32(j) - i32(t))] += ds;  // ds = 0 off the visible range' : ''}
  }
  if (live) {
${units.map((d) => `    dq[qb + ${u32(d)}] = a${d} * ${f32(r.scale)};`).join('\n')}${
    NB ? `\n    for (var u = 0u; u < ${u32(NB)}; u++) { dbias[(bh * ${u32(Tq)} + t) * ${u32(NB)} + u] = db[u]; }` : ''
  }
  }`);
  return { launch: g, main };
}

export function emitSubgroupDkv(r: ResolvedBackward, SG: number): Emitted {
  const { entryPoint, B, Tq, Tk, H, Kh, D4, V, G } = r;
  const tiles = Math.ceil(Tk / SG);
  const g = grid(entryPoint, B * Kh * tiles, SG);
  const { units, load, bcast } = sharing(r, SG);
  const terms = dkvTerms(r, '      ');
  const main = g.main(`let bg = wg / ${u32(tiles)};
  let j0 = (wg % ${u32(tiles)}) * ${u32(SG)};
  let g = bg % ${u32(Kh)};
  let b = bg / ${u32(Kh)};
  let live = j0 + lid < ${u32(Tk)};
  let j = min(j0 + lid, ${u32(Tk - 1)});
  let lo = ${firstQueryOf(r, 'j')};
  let hi = ${endQueryOf(r, 'j')};
  // The queries that see any key of this workgroup: uniform (from wid only).
  let tile_lo = ${firstQueryOf(r, 'j0')};
  let tile_hi = ${endQueryOf(r, `(min(j0 + ${u32(SG)}, ${u32(Tk)}) - 1u)`)};${dropoutKeyLine(r, '  ')}
  let kvb = ((b * ${u32(Tk)} + j) * ${u32(Kh)} + g) * ${u32(D4)};
${units.map((d) => `  let k${d} = k[kvb + ${u32(d)}] * ${f32(r.scale)};`).join('\n')}
${units.map((d) => `  let v${d} = v[kvb + ${u32(d)}];`).join('\n')}
${units.map((d) => `  var ak${d} = ${V}(0.0);`).join('\n')}
${units.map((d) => `  var av${d} = ${V}(0.0);`).join('\n')}
  for (var hh = 0u; hh < ${u32(G)}; hh++) {
    let h = g * ${u32(G)} + hh;
    let bh = b * ${u32(H)} + h;${r.alibi ? '\n    let slope = ALIBI[h];' : ''}
    for (var t = tile_lo; t < tile_hi; t++) {
      let row = ((b * ${u32(Tq)} + t) * ${u32(H)} + h) * ${u32(D4)};
      ${load('q', '      ')}
      ${load('dout', '      ')}
${units.map((d) => `      let qi${d} = ${bcast('q', d)};`).join('\n')}
${units.map((d) => `      let oi${d} = ${bcast('dout', d)};`).join('\n')}
      var s = ${units.map((d) => dotOf(r, `qi${d}`, `k${d}`)).join('\n        + ')};${biasLine(r, 's', 't', 'j', '      ')}
      let dp = ${units.map((d) => dotOf(r, `oi${d}`, `v${d}`)).join('\n        + ')};
      let p = select(0.0, exp(s - ${lseAt(r, `bh * ${u32(Tq)} + t`)}), t >= lo && t < hi);${terms.wgsl}
${units.map((d) => `      av${d} += ${terms.pv} * oi${d};`).join('\n')}
${units.map((d) => `      ak${d} += ds * qi${d};`).join('\n')}
    }
  }
  if (live) {
${units.map((d) => `    dk[kvb + ${u32(d)}] = ak${d} * ${f32(r.scale)};`).join('\n')}
${units.map((d) => `    dv[kvb + ${u32(d)}] = av${d};`).join('\n')}
  }`);
  return { launch: g, main };
}
