/**
 * How evenly a mixture of experts routes, in words for the evaluation line: the busiest
 * expert's share of the routed slots in the worst layer, beside the even share (1/experts).
 * A share near 1 is router collapse (every token to one expert); near the even share is a
 * balanced router.
 */
export function routingSummary(load: readonly (readonly number[])[]): string {
  let worst = { layer: 0, share: 0, experts: 1 };
  load.forEach((l, layer) => {
    const share = Math.max(...l);
    if (share > worst.share) worst = { layer, share, experts: l.length };
  });
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `busiest expert ${pct(worst.share)} of routed slots (MoE layer ${worst.layer}; even split ${pct(1 / worst.experts)})`;
}
