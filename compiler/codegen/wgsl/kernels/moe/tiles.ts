/**
 * Row tiles of the expert-sorted rows, for the register-blocked grouped matmuls: each expert's
 * rows offsets[e] … offsets[e + 1] − 1 are cut into tiles of TM rows, so a tile never mixes
 * experts and its TM rows share every weight load. Tile t belongs to the expert whose tiles
 * (counted from the offsets, Σ ceil(count / TM)) cover it; at most ceil(rows / TM) + E tiles
 * exist whatever the routing, so a dispatch sized for that bound runs every expert's rows
 * without padding any buffer (the few tiles past the real count return at once).
 */
import { u32 } from '../common.js';

/** Upper bound on the tiles of `rows` sorted rows over `experts` experts. */
export function tileBound(rows: number, experts: number, TM: number): number {
  return Math.ceil(rows / TM) + experts;
}

/**
 * WGSL that finds the expert `e` and first row `row0` of tile `tile` from `offsets` (u32
 * [E + 1]), and `last`, the expert's last row (reads clamp to it, writes stop at it); returns
 * when the tile is past the last expert's. With `firstExpert` > 0 the tiles are those of experts
 * first … first + E − 1 only (a dispatch over one chunk of the experts' weights).
 */
export function tileWgsl(E: number, TM: number, firstExpert = 0): string {
  const end = firstExpert + E;
  return `var e = ${u32(end)};
  var first = 0u;
  for (var x = ${u32(firstExpert)}; x < ${u32(end)}; x++) {
    let n = (offsets[x + 1u] - offsets[x] + ${u32(TM - 1)}) / ${u32(TM)};
    if (e == ${u32(end)}) {
      if (tile < first + n) { e = x; } else { first += n; }
    }
  }
  if (e == ${u32(end)}) { return; }
  let row0 = offsets[e] + (tile - first) * ${u32(TM)};
  let last = offsets[e + 1u] - 1u;`;
}
