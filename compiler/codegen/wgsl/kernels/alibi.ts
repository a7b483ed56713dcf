/**
 * ALiBi head slopes (Press et al., "Train Short, Test Long", and its reference code): for n
 * heads a power of two, slope_h = 2^(−8(h+1)/n); otherwise the slopes of the largest power of
 * two c < n, followed by every other slope of 2c heads (the first n − c of them).
 */
function powerOfTwoSlopes(n: number): number[] {
  return Array.from({ length: n }, (_, h) => 2 ** ((-8 * (h + 1)) / n));
}

export function alibiSlopes(heads: number): number[] {
  if (!Number.isInteger(heads) || heads < 1) throw new Error(`alibi: heads must be an integer >= 1, got ${heads}`);
  const c = 2 ** Math.floor(Math.log2(heads));
  if (c === heads) return powerOfTwoSlopes(heads);
  return [
    ...powerOfTwoSlopes(c),
    ...powerOfTwoSlopes(2 * c)
      .filter((_, i) => i % 2 === 0)
      .slice(0, heads - c),
  ];
}
