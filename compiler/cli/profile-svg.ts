/**
 * `mspec profile --svg`: where a step's time goes, as dependency-free SVG in the style of the
 * training chart (runtime/train/chart.ts): for each profiled plan, one horizontal bar per kind
 * of step (ms, share) and a last bar for the time outside the kernels.
 */
import type { PlanReport } from './profile-report.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const BAR = 18;
const GAP = 6;

export function profileSvg(title: string, plans: readonly PlanReport[], width = 720): string {
  const pad = { l: 130, r: 150, t: 40 };
  const plot = width - pad.l - pad.r;
  const parts: string[] = [];
  let y = pad.t;
  for (const p of plans) {
    const rows: { label: string; ms: number; color: string }[] = p.kinds.map((k) => ({ label: k.kind, ms: k.ms, color: '#4878b0' }));
    // Only a positive remainder is a bar; a negative one (kernels slower alone) is said in the heading.
    if (p.totals.outsideMs > 0) rows.push({ label: 'outside kernels', ms: p.totals.outsideMs, color: '#c05040' });
    const max = Math.max(...rows.map((r) => r.ms), 1e-9);
    const step = p.totals.measuredMs;
    parts.push(
      `<text x="${pad.l}" y="${y + 12}" font-size="13" font-weight="bold">${esc(`${p.name}: ${step.toFixed(3)} ms per step (Σ kernels and copies ${p.totals.stepsMs.toFixed(3)} ms)`)}</text>`,
    );
    y += 22;
    for (const r of rows) {
      const w = (r.ms / max) * plot;
      const share = step > 0 ? ` (${((100 * r.ms) / step).toFixed(1)}%)` : '';
      parts.push(
        `<text x="${pad.l - 6}" y="${y + BAR - 5}" text-anchor="end" font-size="12">${esc(r.label)}</text>` +
          `<rect x="${pad.l}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${r.color}"/>` +
          `<text x="${(pad.l + w + 6).toFixed(1)}" y="${y + BAR - 5}" font-size="11">${r.ms.toFixed(3)} ms${share}</text>`,
      );
      y += BAR + GAP;
    }
    y += 18;
  }
  const height = y + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="20" text-anchor="middle" font-size="13">${esc(title)}</text>
${parts.join('\n')}
</svg>
`;
}
