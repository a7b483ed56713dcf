/**
 * Source positions. Spans are half-open character offsets into one file's text; line and
 * column are computed only when a diagnostic is rendered (as TypeScript and esbuild do), so
 * every phase can carry spans cheaply.
 */
export interface Span {
  /** The file's path as the user gave it (or a synthetic name such as `<stdin>`). */
  readonly file: string;
  /** Offset of the first character. */
  readonly start: number;
  /** Offset one past the last character (start === end for an insertion point). */
  readonly end: number;
}

export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

export interface LineCol {
  /** 1-based. */
  readonly line: number;
  /** 1-based, counted in UTF-16 code units like editors do for ASCII sources. */
  readonly col: number;
}

export function span(file: string, start: number, end: number): Span {
  return { file, start, end: Math.max(start, end) };
}

/** The smallest span covering both (they must be in the same file). */
export function join(a: Span, b: Span): Span {
  return { file: a.file, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

export function lineColAt(text: string, offset: number, starts = lineStarts(text)): LineCol {
  const clamped = Math.max(0, Math.min(offset, text.length));
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= clamped) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: clamped - starts[lo]! + 1 };
}
