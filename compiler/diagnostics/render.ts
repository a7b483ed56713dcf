import type { Diagnostic } from './diagnostic.js';
import { lineColAt, lineStarts, type SourceFile } from './span.js';

export interface RenderOptions {
  /** ANSI colours (only on a TTY that did not ask for NO_COLOR). */
  color?: boolean;
}

const paint = (on: boolean, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/**
 * `file:line:col: error MS2101: message`, then the source line, a caret line under the span
 * (clipped to that line), and the hint. Files come from the sources map; a span into a file
 * we do not have the text of renders without the excerpt.
 */
export function renderDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, SourceFile>, options: RenderOptions = {}): string {
  const color = options.color ?? false;
  const sev = d.severity === 'error' ? paint(color, '1;31', 'error') : paint(color, '1;33', 'warning');
  const lines: string[] = [];
  const src = d.span ? sources.get(d.span.file) : undefined;
  if (d.span && src) {
    const starts = lineStarts(src.text);
    const at = lineColAt(src.text, d.span.start, starts);
    lines.push(`${d.span.file}:${at.line}:${at.col}: ${sev} ${d.code}: ${paint(color, '1', d.message)}`);
    lines.push(...excerpt(src.text, starts, d.span.start, d.span.end, color));
  } else if (d.span) {
    lines.push(`${d.span.file}: ${sev} ${d.code}: ${d.message}`);
  } else {
    lines.push(`${sev} ${d.code}: ${d.message}`);
  }
  if (d.hint) lines.push(`  ${paint(color, '36', 'hint')}: ${d.hint}`);
  for (const r of d.related ?? []) {
    const rs = sources.get(r.span.file);
    const where = rs ? `${r.span.file}:${lineColAt(rs.text, r.span.start).line}:${lineColAt(rs.text, r.span.start).col}` : r.span.file;
    lines.push(`  note: ${r.message} (${where})`);
  }
  return lines.join('\n');
}

function excerpt(text: string, starts: number[], start: number, end: number, color: boolean): string[] {
  const at = lineColAt(text, start, starts);
  const lineStart = starts[at.line - 1]!;
  const nextLine = at.line < starts.length ? starts[at.line]! - 1 : text.length;
  const raw = text.slice(lineStart, nextLine).replace(/\r$/, '');
  // Tabs would misalign the caret; show them as single spaces (the caret counts characters).
  // Control characters (a binary file read as a spec) would garble the terminal: shown as '?'.
  let source = raw.replace(/\t/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  let from = start - lineStart;
  let to = Math.max(from + 1, Math.min(end, lineStart + raw.length) - lineStart);
  // A very long line (minified or generated text, a binary file) is cut to a window around the span.
  if (source.length > EXCERPT_WIDTH) {
    const left = Math.max(0, Math.min(from - 20, source.length - EXCERPT_WIDTH));
    const right = left + EXCERPT_WIDTH;
    const head = left > 0 ? '…' : '';
    source = head + source.slice(left, right) + (right < source.length ? '…' : '');
    from = from - left + head.length;
    to = Math.min(to - left, EXCERPT_WIDTH) + head.length;
  }
  const caret = ' '.repeat(from) + '^'.repeat(Math.max(1, to - from));
  return [`    ${source}`, `    ${paint(color, '32', caret)}`];
}

/** The most characters of a source line an excerpt shows. */
const EXCERPT_WIDTH = 120;

export function renderAll(ds: readonly Diagnostic[], sources: ReadonlyMap<string, SourceFile>, options: RenderOptions = {}): string {
  return ds.map((d) => renderDiagnostic(d, sources, options)).join('\n');
}

/** Machine-readable form for `--json`: positions resolved to 1-based line/col. */
export function diagnosticToJson(d: Diagnostic, sources: ReadonlyMap<string, SourceFile>): object {
  const out: Record<string, unknown> = { code: d.code, severity: d.severity, message: d.message };
  if (d.span) {
    const src = sources.get(d.span.file);
    out.file = d.span.file;
    out.start = d.span.start;
    out.end = d.span.end;
    if (src) {
      const s = lineColAt(src.text, d.span.start);
      const e = lineColAt(src.text, d.span.end);
      out.line = s.line;
      out.col = s.col;
      out.endLine = e.line;
      out.endCol = e.col;
    }
  }
  if (d.hint) out.hint = d.hint;
  if (d.related) out.related = d.related.map((r) => ({ message: r.message, file: r.span.file, start: r.span.start, end: r.span.end }));
  return out;
}
