// Validation loss against training FLOPs (log scale), one line per size, and a dashed line at
// each size's compute-optimal budget by the ~20 tokens per parameter rule: a small SVG by hand.
const COLORS = ['#1c7ed6', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00', '#c2255c'];

export function chart(runs, budget) {
  const W = 720;
  const H = 420;
  const m = { l: 60, r: 20, t: 40, b: 50 };
  const xs = [...runs.flatMap((r) => r.points.map((p) => p.flops)), ...runs.map((r) => r.optimal.flops), budget];
  const ys = runs.flatMap((r) => r.points.map((p) => p.loss));
  const x0 = Math.floor(Math.log10(Math.min(...xs)));
  const x1 = Math.ceil(Math.log10(Math.max(...xs)));
  const pad = (Math.max(...ys) - Math.min(...ys)) * 0.1 || 0.1;
  const y0 = Math.min(...ys) - pad;
  const y1 = Math.max(...ys) + pad;
  const X = (f) => m.l + ((Math.log10(f) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (l) => H - m.b - ((l - y0) / (y1 - y0)) * (H - m.t - m.b);
  const el = [];
  el.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  el.push(
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">validation loss vs training FLOPs (same budget for every size)</text>`,
  );
  for (let e = x0; e <= x1; e++) {
    el.push(`<line x1="${X(10 ** e)}" x2="${X(10 ** e)}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`);
    el.push(`<text x="${X(10 ** e)}" y="${H - m.b + 16}" text-anchor="middle" font-size="11">1e${e}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const l = y0 + ((y1 - y0) * i) / 4;
    el.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(l)}" y2="${Y(l)}" stroke="#eee"/>`);
    el.push(`<text x="${m.l - 6}" y="${Y(l) + 4}" text-anchor="end" font-size="11">${l.toFixed(2)}</text>`);
  }
  el.push(`<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="12">training FLOPs (log scale)</text>`);
  el.push(
    `<text x="16" y="${H / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${H / 2})">validation loss (nats/byte)</text>`,
  );
  el.push(`<line x1="${X(budget)}" x2="${X(budget)}" y1="${m.t}" y2="${H - m.b}" stroke="#555" stroke-width="1.5"/>`);
  el.push(`<text x="${X(budget) + 4}" y="${m.t + 12}" font-size="11" fill="#555">budget</text>`);
  runs.forEach((r, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = r.points.map((p) => `${X(p.flops).toFixed(1)},${Y(p.loss).toFixed(1)}`).join(' ');
    el.push(`<polyline class="run" points="${pts}" fill="none" stroke="${c}" stroke-width="2"/>`);
    for (const p of r.points) el.push(`<circle cx="${X(p.flops).toFixed(1)}" cy="${Y(p.loss).toFixed(1)}" r="3" fill="${c}"/>`);
    const xo = X(r.optimal.flops);
    el.push(`<line class="chinchilla" x1="${xo}" x2="${xo}" y1="${m.t}" y2="${H - m.b}" stroke="${c}" stroke-dasharray="5 4"/>`);
    el.push(`<text x="${xo - 3}" y="${H - m.b - 6 - 14 * i}" text-anchor="end" font-size="10" fill="${c}">20 tok/param: ${r.name}</text>`);
    el.push(`<rect x="${W - m.r - 150}" y="${m.t + 8 + 16 * i}" width="12" height="3" fill="${c}"/>`);
    el.push(
      `<text x="${W - m.r - 132}" y="${m.t + 13 + 16 * i}" font-size="11">${r.name} (${r.params.toLocaleString('en-US')} params)</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">\n${el.join('\n')}\n</svg>\n`;
}
