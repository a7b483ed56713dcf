import { describe, expect, it } from 'vitest';
import { formatFile } from '../../compiler/ast/print.js';
import { parse } from '../../compiler/ast/parse.js';
import { shape } from '../syntax/ast-utils.js';
import { CHAR_GPT, GPT2, LLAMA, SEEDS } from '../syntax/seeds.js';

const P = 't.model';
function fmt(text: string): string {
  const r = parse(text, P);
  expect(r.diagnostics).toEqual([]);
  return formatFile(r.file, text);
}
const lines = (...ls: string[]) => `${ls.join('\n')}\n`;

describe('formatFile', () => {
  it('formats the gpt2 sketch canonically', () => {
    expect(fmt(GPT2)).toBe(
      lines(
        '// specs/gpt2-small.model',
        'model gpt2_small {',
        '  vocab = 50257',
        '  context = 1024',
        '  d_model = 768',
        '  layers = 12',
        '',
        '  embedding { positions: learned, tied: true }',
        '',
        '  block {  // repeated `layers` times',
        '    norm: layernorm(eps: 1e-5)',
        '    placement: pre',
        '    attention { heads: 12, causal, bias: true }',
        '    mlp { activation: gelu_tanh, hidden: 4 * d_model, bias: true }',
        '  }',
        '  final_norm = layernorm(eps: 1e-5)',
        '}',
      ),
    );
  });

  it.each([
    ['gpt2', GPT2],
    ['llama', LLAMA],
    ['char-gpt', CHAR_GPT],
  ])('is idempotent and keeps the AST and comments (%s)', (_, text) => {
    const once = fmt(text);
    expect(fmt(once)).toBe(once);
    const a = parse(text, P).file;
    const b = parse(once, P).file;
    expect(shape(b)).toEqual(shape(a));
    expect(b.comments.map((c) => c.text)).toEqual(a.comments.map((c) => c.text));
  });

  it('uses `=` in model and train bodies and `:` inside sections', () => {
    expect(fmt('model m { a: 1  s { b = 2 } }\ntrain m { steps: 3 }')).toBe(
      lines('model m {', '  a = 1', '  s { b: 2 }', '}', '', 'train m {', '  steps = 3', '}'),
    );
  });

  it('keeps numbers and strings as written', () => {
    expect(fmt('model m { a = 32_000; b = 4Ki; c = 1e-5; d = "x\\"y" }')).toBe(
      lines('model m {', '  a = 32_000', '  b = 4Ki', '  c = 1e-5', '  d = "x\\"y"', '}'),
    );
  });

  it('prints empty blocks as {}', () => {
    expect(fmt('model m {\n}\nmodel n { mlp {\n} }')).toBe(lines('model m {}', '', 'model n {', '  mlp {}', '}'));
  });

  it('ends with exactly one newline and prints nothing for an empty file', () => {
    expect(fmt('model m {}\n\n\n')).toBe('model m {}\n');
    expect(fmt('')).toBe('');
    expect(fmt('// only a comment')).toBe('// only a comment\n');
  });
});

describe('expressions', () => {
  const expr = (src: string) => fmt(`model m { x = ${src} }`).split('\n')[1]!.slice('  x = '.length);

  it.each([
    ['a-(b-c)', 'a - (b - c)'],
    ['(a-b)-c', 'a - b - c'],
    ['a+(b+c)', 'a + (b + c)'],
    ['(a*b)+c', 'a * b + c'],
    ['a*(b+c)', 'a * (b + c)'],
    ['a/(b*c)', 'a / (b * c)'],
    ['a%b*c', 'a % b * c'],
    ['-(a+b)', '-(a + b)'],
    ['-(-a)', '--a'],
    ['(-a).b', '(-a).b'],
    ['(a+b).c', '(a + b).c'],
    ['-a.b', '-a.b'],
    ['((x))', 'x'],
    ['(1 , )', '(1,)'],
    ['( 0.9,0.95 , )', '(0.9, 0.95)'],
    ['f( a : 1 , 2 , )', 'f(a: 1, 2)'],
    ['f()', 'f()'],
    ['adamw(betas: ((0.9), 0.95))', 'adamw(betas: (0.9, 0.95))'],
    ['round_to(8*d_model/3, 256)', 'round_to(8 * d_model / 3, 256)'],
  ])('%s → %s', (src, out) => {
    expect(expr(src)).toBe(out);
  });

  it('prints selectors compactly', () => {
    expect(fmt('model m { block [ 1 :: 2 , - 1 , 0 : 6 , : 4 , :: 2 , : ] { x: 1 } }')).toBe(
      lines('model m {', '  block[1::2, -1, 0:6, :4, ::2, :] { x: 1 }', '}'),
    );
  });
});

describe('sections', () => {
  it('puts a short section of values on one line', () => {
    expect(fmt('model m {\n  attention {\n    heads: 12\n    causal\n  }\n}')).toBe(
      lines('model m {', '  attention { heads: 12, causal }', '}'),
    );
  });

  it('keeps a section of exactly 100 columns on one line, not 101', () => {
    const line = `  mlp { activation: gelu_tanh, hidden: 4 * d_model, bias: true, dropout: 0.1, ex: 8, top_k: 222222 }`;
    const longer = line.replace('top_k', 'top_kk');
    expect(line.length).toBe(100);
    expect(fmt(`model m {\n${line}\n}`)).toBe(lines('model m {', line, '}'));
    expect(fmt(`model m {\n${longer}\n}`).split('\n')[1]).toBe('  mlp {');
  });

  it('breaks a section that would pass 100 columns', () => {
    const long = `mlp { activation: gelu_tanh, hidden: 4 * d_model, bias: true, dropout: 0.1, experts: 8, top_k: 2, capacity: 1.25 }`;
    expect(`  ${long}`.length).toBeGreaterThan(100);
    expect(fmt(`model m { ${long} }`)).toBe(
      lines(
        'model m {',
        '  mlp {',
        '    activation: gelu_tanh',
        '    hidden: 4 * d_model',
        '    bias: true',
        '    dropout: 0.1',
        '    experts: 8',
        '    top_k: 2',
        '    capacity: 1.25',
        '  }',
        '}',
      ),
    );
  });

  it('breaks a section that holds a section or a comment', () => {
    expect(fmt('model m { block { mlp { hidden: 1 } } }')).toBe(lines('model m {', '  block {', '    mlp { hidden: 1 }', '  }', '}'));
    expect(fmt('model m { mlp { hidden: 1 /* why */ } }')).toBe(lines('model m {', '  mlp {', '    hidden: 1  /* why */', '  }', '}'));
  });
});

describe('comments', () => {
  it('keeps trailing comments on their line and own-line comments before the next entry', () => {
    const text = [
      'model m {',
      '  // about heads',
      '  attention { heads: 12 }   // twelve',
      '  mlp {',
      '    hidden: 3072  // 4x',
      '    /* gated? */',
      '    bias: true',
      '    // nothing follows',
      '  }',
      '}',
    ].join('\n');
    expect(fmt(text)).toBe(
      lines(
        'model m {',
        '  // about heads',
        '  attention { heads: 12 }  // twelve',
        '  mlp {',
        '    hidden: 3072  // 4x',
        '    /* gated? */',
        '    bias: true',
        '    // nothing follows',
        '  }',
        '}',
      ),
    );
  });

  it('moves comments from inside a one-line construct to the end of its line', () => {
    expect(fmt('model m {\n  opt = adamw(lr: 3e-3, // peak\n    wd: 0.1)\n  s /* header */ { a: 1 }\n}')).toBe(
      lines('model m {', '  opt = adamw(lr: 3e-3, wd: 0.1)  // peak', '  s {  /* header */', '    a: 1', '  }', '}'),
    );
  });

  it('keeps a line comment last on its line', () => {
    expect(fmt('model m {\n  a = 1 // one\n  /* two */ b = 2\n}')).toBe(
      lines('model m {', '  a = 1  // one', '  /* two */', '  b = 2', '}'),
    );
    expect(fmt('model m {\n  a = f(1, // one\n  /* two */ 2)\n}')).toBe(lines('model m {', '  a = f(1, 2)  // one', '  /* two */', '}'));
  });

  it('moves a line comment from inside an import above it, so a re-format changes nothing', () => {
    const once = fmt('import\n// own line\n "a.model"// note\n\nmodel m {}');
    expect(once).toBe(lines('// own line', 'import "a.model"  // note', '', 'model m {}'));
    expect(fmt(once)).toBe(once);
  });

  it('keeps block comments verbatim', () => {
    const text = 'model m {\n  /* two\n     lines */\n  a = 1\n}';
    expect(fmt(text)).toBe(`${text}\n`);
  });

  it('keeps one blank line where the source had some, but none after `{` or before `}`', () => {
    expect(fmt('model m {\n\n\n  a = 1\n\n\n\n  // b next\n  b = 2\n\n  c = 3\n\n}')).toBe(
      lines('model m {', '  a = 1', '', '  // b next', '  b = 2', '', '  c = 3', '}'),
    );
  });

  it('keeps comments after the last item', () => {
    expect(fmt('model m {}\n// end')).toBe(lines('model m {}', '// end'));
    expect(fmt('model m {}\n\n\n// end')).toBe(lines('model m {}', '', '// end'));
    expect(fmt('model m {} // same line')).toBe(lines('model m {}  // same line'));
  });
});

describe('items', () => {
  it('puts imports first, in source order, and one blank line between items', () => {
    expect(fmt('// header\n\nmodel a {}\nimport "x.model" // why\n// about y\nimport "y.model"\ntrain a {}')).toBe(
      lines('// header', '', 'import "x.model"  // why', '// about y', 'import "y.model"', '', 'model a {}', '', 'train a {}'),
    );
  });

  it('keeps every comment of every seed', () => {
    for (const seed of SEEDS) {
      const out = fmt(seed);
      for (const c of parse(seed, P).file.comments) expect(out).toContain(c.text);
    }
  });
});
