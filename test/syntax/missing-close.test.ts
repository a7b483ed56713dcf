/**
 * The two syntax mistakes whose errors used to land far from the cause: a block whose `}` is
 * missing (MS1014, reported at its `{`) and an entry with `=` and nothing after it (MS1013).
 */
import { describe, expect, it } from 'vitest';
import { renderAll } from '../../compiler/diagnostics/render.js';
import { findUnclosedBraces } from '../../compiler/syntax/braces.js';
import { lexer } from '../../compiler/syntax/lexer.js';
import { parse } from '../../compiler/ast/parse.js';
import { firstLines } from './ast-utils.js';

const P = 't.model';
const errors = (text: string) => firstLines(parse(text, P).diagnostics, P, text);
const rendered = (text: string) => renderAll(parse(text, P).diagnostics, new Map([[P, { path: P, text }]]));
const lines = (...ls: string[]) => ls.join('\n');

describe('MS1014: a `{` that is never closed', () => {
  it('is reported at the `{`, with a note where the parser reached the end of the file', () => {
    expect(rendered('model m {\n  vocab = 100\n')).toBe(
      lines(
        "t.model:1:9: error MS1014: '{' of model 'm' is never closed",
        '    model m {',
        '            ^',
        "  hint: add '}' where model 'm' ends (at the latest, at the end of the file)",
        "  note: the parser reached the end of the file with this '{' still open (t.model:3:1)",
      ),
    );
  });

  it('uses indentation to find the opener whose `}` is missing, not the one the parser was in', () => {
    const text = lines(
      'model m {',
      '  block {',
      '    attention { heads: 4',
      '    mlp { hidden: 256 }',
      '  }',
      '}',
      'model n extends m {',
      '  layers = 4',
      '}',
    );
    expect(rendered(text)).toBe(
      lines(
        "t.model:3:15: error MS1014: '{' of section 'attention' is never closed",
        '        attention { heads: 4',
        '                  ^',
        "  hint: add '}' before line 4, the first line back at the indentation of line 3",
        "  note: the parser reached 'model' with this '{' still open (t.model:7:1)",
      ),
    );
  });

  it('names the first line back at the opener’s indentation as where the `}` belongs', () => {
    const text = lines('model m {', '  block {', '    attention { heads: 4 }', '  embedding { tied: true }', '}');
    expect(parse(text, P).diagnostics.map((d) => [d.code, d.hint])).toEqual([
      ['MS1014', "add '}' before line 4, the first line back at the indentation of line 2"],
    ]);
  });

  it('blames one opener per missing `}`: an indented one, then the outer ones still open', () => {
    const text = lines('model m {', '  block {', '    attention { heads: 4', '  }', '');
    // Line 4's `}` lines up with `block {`, so it closes block, and attention and model are open.
    expect(errors(text)).toEqual([
      "t.model:3:15: error MS1014: '{' of section 'attention' is never closed",
      "t.model:1:9: error MS1014: '{' of model 'm' is never closed",
    ]);
  });

  it('names selectors and train sections', () => {
    expect(errors('model m {\n  block[0:2] {\n    dropout: 0\n}')).toEqual([
      "t.model:2:14: error MS1014: '{' of section 'block[0:2]' is never closed",
    ]);
    expect(errors('train m {\n  steps = 1\n')).toEqual(["t.model:1:9: error MS1014: '{' of train 'm' is never closed"]);
  });

  it('makes no guess from indentation in a flat file', () => {
    const d = parse('model m {\nvocab = 1\nblock {\nheads = 1\n}\n', P).diagnostics;
    expect(d.map((x) => [x.code, x.hint])).toEqual([['MS1014', "add '}' where model 'm' ends (at the latest, at the end of the file)"]]);
  });

  it('says nothing when the braces balance, however they are indented', () => {
    expect(errors('model m {\n      block {\n  x = 1\n    }\n}')).toEqual([]);
    expect(findUnclosedBraces(lexer.tokenize('model m { a { b { } } }').tokens, 'model m { a { b { } } }')).toEqual([]);
  });

  it('leaves a stray `}` to its own error', () => {
    expect(errors('model m {}\n}')).toEqual(["t.model:2:1: error MS1011: unexpected '}'; there is no open block to close"]);
  });
});

describe("MS1013: an entry with '=' and no value", () => {
  it('is one error at the key and its `=`, even when the next line starts a section', () => {
    const text = lines('model m {', '  vocab =', '  block {', '    attention { heads: 4 }', '  }', '}');
    expect(rendered(text)).toBe(
      lines(
        "t.model:2:3: error MS1013: 'vocab' has no value",
        '      vocab =',
        '      ^^^^^^^',
        "  hint: put the value after '=' on the same line (vocab = <value>, as in vocab = 50257), or delete the line",
      ),
    );
    const m = parse(text, P).file.items[0];
    expect(m?.kind === 'Model' && m.body.map((e) => e.key.name)).toEqual(['block']);
  });

  it('covers `:`, the end of a block, a separator and the next `key = value` line', () => {
    expect(errors('model m {\n  heads:\n}')).toEqual(["t.model:2:3: error MS1013: 'heads' has no value"]);
    expect(errors('model m { x = , y = 2 }')).toEqual(["t.model:1:11: error MS1013: 'x' has no value"]);
    expect(errors('model m {\n  x =\n  context = 64\n}')).toEqual(["t.model:2:3: error MS1013: 'x' has no value"]);
    expect(errors('model m {\n  x =\n  layers[0] { dropout: 0 }\n}')).toEqual(["t.model:2:3: error MS1013: 'x' has no value"]);
  });

  it('still reads a value written on the next line', () => {
    const m = parse('model m {\n  vocab =\n    50257\n  d =\n    d_model\n}', P);
    expect(m.diagnostics).toEqual([]);
    const item = m.file.items[0];
    expect(item?.kind === 'Model' && item.body.map((e) => e.kind)).toEqual(['Assign', 'Assign']);
  });
});
