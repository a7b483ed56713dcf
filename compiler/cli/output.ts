/** Printing diagnostics and results the same way in every subcommand. */
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { sortDiagnostics } from '../diagnostics/diagnostic.js';
import { diagnosticToJson, renderAll } from '../diagnostics/render.js';
import type { SourceFile } from '../diagnostics/span.js';

export function useColor(stream: NodeJS.WriteStream): boolean {
  return (
    (Boolean(stream.isTTY) || (stream === process.stderr && process.env.MSPEC_STDERR_TTY === '1')) &&
    !process.env.NO_COLOR &&
    process.env.TERM !== 'dumb'
  );
}

export function printDiagnostics(ds: readonly Diagnostic[], sources: ReadonlyMap<string, SourceFile>): void {
  if (ds.length === 0) return;
  process.stderr.write(renderAll(sortDiagnostics(ds), sources, { color: useColor(process.stderr) }) + '\n');
}

export function diagnosticsJson(ds: readonly Diagnostic[], sources: ReadonlyMap<string, SourceFile>): object[] {
  return sortDiagnostics(ds).map((d) => diagnosticToJson(d, sources));
}

export function summary(ds: readonly Diagnostic[]): string {
  const e = ds.filter((d) => d.severity === 'error').length;
  const w = ds.length - e;
  const part = (n: number, s: string) => `${n} ${s}${n === 1 ? '' : 's'}`;
  return `${part(e, 'error')}, ${part(w, 'warning')}`;
}

/** `file.model#name` → { file, model }. */
export function splitTarget(target: string): { file: string; model?: string } {
  const i = target.lastIndexOf('#');
  if (i <= 0) return { file: target };
  return { file: target.slice(0, i), model: target.slice(i + 1) };
}
