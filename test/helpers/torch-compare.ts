/**
 * Comparing mspec's float32 results with a float64 PyTorch reference: the worst element
 * measured against a tolerance abs + rel·|ref|, NaN counted as the worst possible, so a test
 * that asserts `excess <= 1` fails on NaN instead of passing it.
 */

export interface Tol {
  readonly abs: number;
  readonly rel: number;
}

export interface Worst {
  /** max over i of |got − want| / (abs + rel·|want|); Infinity when any got is not finite. */
  readonly excess: number;
  /** max |got − want| (NaN-poisoned). */
  readonly maxAbs: number;
  readonly index: number;
  readonly got: number;
  readonly want: number;
}

export function worstOf(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol): Worst {
  if (got.length < want.length) throw new Error(`test bug: ${got.length} values to compare with ${want.length}`);
  let w: Worst = { excess: 0, maxAbs: 0, index: -1, got: 0, want: 0 };
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? NaN : d;
    const e = Number.isFinite(d) ? d / (tol.abs + tol.rel * Math.abs(want[i]!)) : Infinity;
    if (!(e <= w.excess)) w = { excess: e, maxAbs: 0, index: i, got: got[i]!, want: want[i]! };
  }
  return { ...w, maxAbs };
}

export function describeWorst(what: string, w: Worst): string {
  return `${what}: max |Δ| ${w.maxAbs.toExponential(2)}; worst [${w.index}] got ${w.got} want ${w.want} (${w.excess.toFixed(2)}× the tolerance)`;
}
