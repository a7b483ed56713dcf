/**
 * Folder baselines: every `cases/NAME.model` is compiled and its rendered diagnostics are
 * compared with `cases/NAME.errors.txt`. Each case is named after the code it demonstrates,
 * and that code must appear in its output. Regenerate with UPDATE_BASELINES=1 and review.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sortDiagnostics } from '../../compiler/diagnostics/diagnostic.js';
import { renderAll } from '../../compiler/diagnostics/render.js';
import { compileFile } from '../../compiler/index.js';

const dir = join(import.meta.dirname, 'cases');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.model'))
  .sort();

describe('diagnostic baselines', () => {
  for (const name of cases) {
    it(name, () => {
      const file = relative(process.cwd(), join(dir, name));
      const r = compileFile(file);
      const text = renderAll(sortDiagnostics(r.diagnostics), r.sources) + '\n';
      const code = name.slice(0, 6);
      expect(r.diagnostics.map((d) => d.code)).toContain(code);
      const baseline = join(dir, name.replace(/\.model$/, '.errors.txt'));
      if (process.env.UPDATE_BASELINES) writeFileSync(baseline, text);
      expect(existsSync(baseline), `missing baseline ${baseline}; run with UPDATE_BASELINES=1 and review it`).toBe(true);
      expect(text).toBe(readFileSync(baseline, 'utf8'));
    });
  }
});
