/**
 * Diagnostics reach the user in phase order — lexing, parsing, semantics — whatever their
 * positions, so a follow-on error never comes before the syntax error that caused it; and an
 * error found in a base model through `extends` says which derived model pulled it in.
 */
import { describe, expect, it } from 'vitest';
import { diagnostic, sortDiagnostics } from '../../compiler/diagnostics/diagnostic.js';
import { renderAll } from '../../compiler/diagnostics/render.js';
import { compileFile } from '../../compiler/index.js';
import type { Host } from '../../compiler/semantics/resolve.js';

function host(files: Record<string, string>): Host {
  return {
    readFile: (path) => files[path] ?? { error: 'no such file' },
    charVocab: () => ({ error: 'no data in this test' }),
  };
}

/** The first line of each rendered diagnostic, in output order. */
function headlines(files: Record<string, string>, entry: string): string[] {
  const r = compileFile(entry, { host: host(files), analyze: false });
  return renderAll(sortDiagnostics(r.diagnostics), r.sources)
    .split('\n')
    .filter((l) => /^\S+:\d+:\d+: (error|warning) /.test(l));
}

describe('diagnostic order', () => {
  it('prints lexical, then parse, then semantic errors, each phase in source order', () => {
    const text = [
      'model m {',
      '  vocab = 100, context = 64, d_model = 64, layers = 2',
      '  block { attention { heads: 5 } }', // semantic (MS2101), first in the file
      '  final_norm = layernorm(eps: 1e-5', //  parse error, reported at the `}` below
      '}',
      'model k { vocab = 1, context = 1, d_model = 1, layers = 1, block { attention { heads: 1 } }, x = 4kb }', // lexical, last
    ].join('\n');
    expect(headlines({ 'a.model': text }, 'a.model').map((l) => l.replace(/^a\.model:/, ''))).toEqual([
      "6:98: error MS1003: invalid number '4kb'",
      "5:1: error MS1010: expected ',' or ')', found '}'",
      '3:23: error MS2101: heads (5) must divide d_model (64)',
      "6:94: error MS2001: unknown knob 'x' in model",
    ]);
  });

  it("puts the syntax errors of an imported file before the entry file's semantic errors", () => {
    const files = {
      'main.model': 'import "lib.model"\nmodel m { vocab = 1, context = 1, d_model = 4, layers = 1, block { attention { heads: 3 } } }',
      'lib.model': 'model lib {\n  vocab = \n}',
    };
    expect(headlines(files, 'main.model')).toEqual([
      "lib.model:2:3: error MS1013: 'vocab' has no value",
      'main.model:2:80: error MS2101: heads (3) must divide d_model (4)',
    ]);
  });

  it('sorts reading, lexing, parsing, semantic and code-generation errors in that order', () => {
    const at = (start: number) => ({ file: 'a.model', start, end: start + 1 });
    const ds = [
      diagnostic('MS4001', at(0), { what: 'x' }),
      diagnostic('MS2101', at(1), { heads: 3, d_model: 4 }),
      diagnostic('MS1010', at(2), { expected: 'a', found: 'b' }),
      diagnostic('MS1003', at(3), { text: '4kb' }),
      diagnostic('MS1020', at(4), { reason: 'invalid byte' }),
    ];
    expect(sortDiagnostics(ds).map((d) => d.code)).toEqual(['MS1020', 'MS1003', 'MS1010', 'MS2101', 'MS4001']);
  });

  it('does not report a knob lost to a syntax error as missing (MS2004)', () => {
    const files = { 'a.model': 'model m {\n  vocab =\n  context = 64, d_model = 64, layers = 2\n  block { attention { heads: 4 } }\n}' };
    expect(headlines(files, 'a.model')).toEqual(["a.model:2:3: error MS1013: 'vocab' has no value"]);
    // Without the syntax error the missing knob is reported as before.
    const fixed = { 'a.model': 'model m {\n  context = 64, d_model = 64, layers = 2\n  block { attention { heads: 4 } }\n}' };
    expect(headlines(fixed, 'a.model')).toEqual(["a.model:1:7: error MS2004: missing required knob 'vocab' in model"]);
  });
});

describe('errors found through extends', () => {
  const base = 'model base {\n  vocab = 100, context = 64, d_model = 64, layers = 2\n  block { attention { heads: 5 } }\n}';

  it('name the derived model and its file in a note', () => {
    const files = {
      'lib.model': base,
      'main.model': 'import "lib.model"\nmodel top extends mid { layers = 4 }\nmodel mid extends base {}',
    };
    const r = compileFile('main.model', { host: host(files), analyze: false });
    const text = renderAll(sortDiagnostics(r.diagnostics), r.sources);
    expect(text).toContain("  note: in model 'top', which extends 'mid', which extends 'base' (main.model:2:7)");
    expect(text.split('\n')[0]).toBe('lib.model:3:23: error MS2101: heads (5) must divide d_model (64)');
  });

  it('leave a base model’s own error unannotated when the base is built itself', () => {
    const files = { 'a.model': `${base}\nmodel derived extends base {}` };
    const r = compileFile('a.model', { host: host(files), analyze: false });
    expect(r.diagnostics.map((d) => [d.code, d.related?.length ?? 0])).toEqual([['MS2101', 0]]);
  });
});
