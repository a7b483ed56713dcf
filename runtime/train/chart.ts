/** A dependency-free SVG line chart of the training and validation loss curves. */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
}

export function lossChartSvg(title: string, series: readonly Series[], width = 720, height = 400): string {
  const all = series.flatMap((s) => s.points);
  const pad = { l: 60, r: 20, t: 50, b: 44 };
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).filter(Number.isFinite);
  const x0 = Math.min(...xs, 0);
  const x1 = Math.max(...xs, 1);
  const y0 = Math.min(...ys, Infinity) === Infinity ? 0 : Math.min(...ys);
  const y1 = Math.max(...ys, y0 + 1e-6);
  const sx = (x: number) => pad.l + ((x - x0) / (x1 - x0 || 1)) * (width - pad.l - pad.r);
  const sy = (y: number) => height - pad.b - ((y - y0) / (y1 - y0 || 1)) * (height - pad.t - pad.b);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const ticks = 5;
  const grid: string[] = [];
  for (let i = 0; i <= ticks; i++) {
    const y = y0 + ((y1 - y0) * i) / ticks;
    grid.push(
      `<line x1="${pad.l}" x2="${width - pad.r}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#ddd"/><text x="${pad.l - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end" font-size="11">${y.toFixed(2)}</text>`,
    );
    const x = x0 + ((x1 - x0) * i) / ticks;
    grid.push(`<text x="${sx(x).toFixed(1)}" y="${height - pad.b + 16}" text-anchor="middle" font-size="11">${Math.round(x)}</text>`);
  }
  const lines = series.map((s) => {
    const d = s.points
      .filter((p) => Number.isFinite(p[1]))
      .map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
      .join('');
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`;
  });
  const legend = series.map(
    (s, i) =>
      `<rect x="${pad.l + 10 + i * 150}" y="${pad.t - 20}" width="12" height="3" fill="${s.color}"/><text x="${pad.l + 26 + i * 150}" y="${pad.t - 15}" font-size="12">${esc(s.name)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>
${grid.join('\n')}
${lines.join('\n')}
${legend.join('\n')}
<text x="${width / 2}" y="${height - 8}" text-anchor="middle" font-size="12">step</text>
<text x="14" y="${height / 2}" transform="rotate(-90 14 ${height / 2})" text-anchor="middle" font-size="12">loss (nats/token)</text>
</svg>
`;
}
