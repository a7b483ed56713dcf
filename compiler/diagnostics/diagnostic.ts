import { type Code, format, messages, type Severity } from './messages.js';
import type { Span } from './span.js';

export interface Related {
  readonly span: Span;
  readonly message: string;
}

export interface Diagnostic {
  readonly code: Code;
  readonly severity: Severity;
  readonly message: string;
  /** Absent only for diagnostics about no particular place (a missing file given on the command line). */
  readonly span?: Span;
  readonly hint?: string;
  /** Other places that explain this one ("first defined here", "base model is here"). */
  readonly related?: readonly Related[];
}

export interface DiagnosticOptions {
  hint?: string | undefined;
  related?: readonly Related[];
}

export function diagnostic(
  code: Code,
  span: Span | undefined,
  args: Readonly<Record<string, string | number>> = {},
  options: DiagnosticOptions = {},
): Diagnostic {
  const d: { -readonly [K in keyof Diagnostic]: Diagnostic[K] } = {
    code,
    severity: messages[code].severity,
    message: format(code, args),
  };
  if (span) d.span = span;
  if (options.hint) d.hint = options.hint;
  if (options.related && options.related.length > 0) d.related = options.related;
  return d;
}

/**
 * Phases collect diagnostics here and keep going; nothing user-facing is thrown. The bag
 * de-duplicates identical reports (same code, place and text), which error recovery and
 * `extends` can otherwise produce more than once.
 */
export class DiagnosticBag {
  private readonly items: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  add(d: Diagnostic): void {
    const key = `${d.code}|${d.span?.file}|${d.span?.start}|${d.span?.end}|${d.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push(d);
  }

  report(code: Code, span: Span | undefined, args: Readonly<Record<string, string | number>> = {}, options: DiagnosticOptions = {}): void {
    this.add(diagnostic(code, span, args, options));
  }

  addAll(ds: Iterable<Diagnostic>): void {
    for (const d of ds) this.add(d);
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }

  get all(): readonly Diagnostic[] {
    return this.items;
  }
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

/** Codes about reading a file at all (it is missing, or not UTF-8): before any lexing. */
const READING: ReadonlySet<Code> = new Set(['MS5001', 'MS1020']);

/**
 * The phase a code belongs to, in the order phases run: reading files, lexing (MS1001–MS1009),
 * parsing (the other MS10xx), then everything semantic (names, shapes, recipes, warnings,
 * data files), then code generation (MS4xxx). Output follows this order (as TypeScript
 * reports syntactic before semantic errors), so a follow-on error never comes before the
 * syntax error that caused it.
 */
export function phaseOf(code: Code): number {
  if (READING.has(code)) return 0;
  if (code.startsWith('MS100')) return 1;
  if (code.startsWith('MS10')) return 2;
  if (code.startsWith('MS4')) return 4;
  return 3;
}

/** Stable order for output: by phase, then file, then position. Report order is kept for ties. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return ds
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      const pa = phaseOf(a.d.code);
      const pb = phaseOf(b.d.code);
      if (pa !== pb) return pa - pb;
      const fa = a.d.span?.file ?? '';
      const fb = b.d.span?.file ?? '';
      if (fa !== fb) return fa < fb ? -1 : 1;
      const sa = a.d.span?.start ?? -1;
      const sb = b.d.span?.start ?? -1;
      if (sa !== sb) return sa - sb;
      return a.i - b.i;
    })
    .map((x) => x.d);
}
