/**
 * `mspec fmt FILE... [--check | --write]`: prints the canonical form (one file), rewrites
 * files in place (`--write`, atomically), or exits 1 listing files that are not formatted
 * (`--check`). A file with syntax errors is never rewritten.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { formatFile } from '../ast/print.js';
import { diagnostic } from '../diagnostics/diagnostic.js';
import { parse } from '../ast/parse.js';
import { nodeHost } from '../semantics/node-host.js';
import { printDiagnostics } from './output.js';

export interface FmtArgs {
  files: string[];
  check: boolean;
  write: boolean;
}

export function runFmt(args: FmtArgs): number {
  let status = 0;
  for (const file of args.files) {
    const text = nodeHost.readFile(file);
    if (typeof text !== 'string') {
      process.stderr.write(`error MS5001: cannot read '${file}': ${text.error}\n`);
      status = Math.max(status, 2);
      continue;
    }
    const bad = nodeHost.encodingProblem(file);
    if (bad) {
      printDiagnostics(
        [diagnostic('MS1020', { file, start: bad.offset, end: bad.offset + 1 }, { reason: bad.reason })],
        new Map([[file, { path: file, text }]]),
      );
      status = Math.max(status, 1);
      continue;
    }
    const r = parse(text, file);
    if (r.diagnostics.some((d) => d.severity === 'error')) {
      printDiagnostics(r.diagnostics, new Map([[file, { path: file, text }]]));
      process.stderr.write(`${file}: not formatted because of syntax errors\n`);
      status = Math.max(status, 1);
      continue;
    }
    const out = formatFile(r.file, text);
    if (args.check) {
      if (out !== text) {
        process.stdout.write(`${file}: not formatted (run mspec fmt --write ${file})\n`);
        status = Math.max(status, 1);
      }
    } else if (args.write) {
      if (out !== text) {
        const tmp = `${file}.mspec-fmt.tmp`;
        writeFileSync(tmp, out);
        renameSync(tmp, file);
        process.stdout.write(`${file}: formatted\n`);
      }
    } else process.stdout.write(out);
  }
  return status;
}
