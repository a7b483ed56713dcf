/** `mspec check FILE...`: every diagnostic of every file; exit 0 clean, 1 on any error. */
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { SourceFile } from '../diagnostics/span.js';
import { diagnosticsJson, printDiagnostics, splitTarget, summary } from './output.js';
import { compileTarget } from './spec-target.js';

export interface CheckArgs {
  files: string[];
  json: boolean;
}

export function runCheck(args: CheckArgs): number {
  const all: Diagnostic[] = [];
  const sources = new Map<string, SourceFile>();
  const perFile: { file: string; models: string[]; diagnostics: object[] }[] = [];
  for (const target of args.files) {
    // Analysis too (cheap: it does not grow with layers or experts), so a spec whose counts
    // would not be exact (MS2120) fails check, not only info.
    const r = compileTarget(target);
    const { file } = splitTarget(target);
    for (const [k, v] of r.sources) sources.set(k, v);
    all.push(...r.diagnostics);
    perFile.push({ file, models: r.models.map((m) => m.spec.name), diagnostics: diagnosticsJson(r.diagnostics, r.sources) });
    if (!args.json) {
      printDiagnostics(r.diagnostics, r.sources);
      const errs = r.diagnostics.some((d) => d.severity === 'error');
      if (!errs)
        process.stdout.write(
          `${file}: ok (${r.models.map((m) => m.spec.name).join(', ') || 'no models'})${r.diagnostics.length ? `, ${summary(r.diagnostics)}` : ''}\n`,
        );
    }
  }
  const errors = all.some((d) => d.severity === 'error');
  if (args.json) process.stdout.write(JSON.stringify({ ok: !errors, files: perFile }, null, 2) + '\n');
  else if (errors) process.stderr.write(`\n${summary(all)}\n`);
  return errors ? 1 : 0;
}
