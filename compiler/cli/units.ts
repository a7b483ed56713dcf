/** Human-readable numbers for tables: exact counts with separators plus a short form. */
export const exact = (n: number): string => n.toLocaleString('en-US');

export function short(n: number): string {
  const a = Math.abs(n);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [v, s] of units) if (a >= v) return `${(n / v).toFixed(a / v >= 100 ? 0 : a / v >= 10 ? 1 : 2)}${s}`;
  return String(n);
}

export function bytes(n: number): string {
  const a = Math.abs(n);
  const units: [number, string][] = [
    [2 ** 40, 'TiB'],
    [2 ** 30, 'GiB'],
    [2 ** 20, 'MiB'],
    [2 ** 10, 'KiB'],
  ];
  for (const [v, s] of units) if (a >= v) return `${(n / v).toFixed(a / v >= 100 ? 0 : a / v >= 10 ? 1 : 2)} ${s}`;
  return `${n} B`;
}

export function flops(n: number): string {
  const a = Math.abs(n);
  const units: [number, string][] = [
    [1e24, 'YFLOP'],
    [1e21, 'ZFLOP'],
    [1e18, 'EFLOP'],
    [1e15, 'PFLOP'],
    [1e12, 'TFLOP'],
    [1e9, 'GFLOP'],
    [1e6, 'MFLOP'],
    [1e3, 'KFLOP'],
  ];
  for (const [v, s] of units) if (a >= v) return `${(n / v).toFixed(a / v >= 100 ? 0 : a / v >= 10 ? 1 : 2)} ${s}`;
  return `${n} FLOP`;
}

export function signed(n: number, fmt: (x: number) => string): string {
  return n > 0 ? `+${fmt(n)}` : n < 0 ? `−${fmt(-n)}` : '0';
}

export function percent(delta: number, base: number): string {
  if (base === 0) return delta === 0 ? '' : 'new';
  const p = (100 * delta) / base;
  return `${p > 0 ? '+' : p < 0 ? '−' : ''}${Math.abs(p).toFixed(Math.abs(p) >= 10 ? 1 : 2)}%`;
}

/** Left-aligned first column, right-aligned others. */
export function table(rows: string[][], indent = '  '): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map(
      (r) =>
        indent +
        r
          .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
          .join('   ')
          .trimEnd(),
    )
    .join('\n');
}
