import { describe, expect, it } from 'vitest';
import type { Entry, Expr, FileNode, ModelNode, SectionEntry } from '../../compiler/ast/nodes.js';
import { formatExpr } from '../../compiler/ast/print.js';
import { MAX_NESTING, parse } from '../../compiler/ast/parse.js';
import { firstLines, nodesWithSpans } from './ast-utils.js';
import { CHAR_GPT, GPT2, LLAMA } from './seeds.js';

const P = 't.model';
const errors = (text: string) => firstLines(parse(text, P).diagnostics, P, text);
const clean = (text: string): FileNode => {
  const r = parse(text, P);
  expect(firstLines(r.diagnostics, P, text)).toEqual([]);
  return r.file;
};
const model = (text: string): ModelNode => {
  const item = clean(text).items[0];
  if (item?.kind !== 'Model') throw new Error('not a model');
  return item;
};
const body = (entries: string) => model(`model m {\n${entries}\n}`).body;
const value = (expr: string): Expr => {
  const e = body(`x = ${expr}`)[0];
  if (e?.kind !== 'Assign') throw new Error('not an assignment');
  return e.value;
};
/** A compact, fully parenthesised rendering that shows the tree's shape. */
const tree = (e: Expr): string => {
  switch (e.kind) {
    case 'Binary':
      return `(${tree(e.left)} ${e.op} ${tree(e.right)})`;
    case 'Unary':
      return `(${e.op}${tree(e.operand)})`;
    case 'Member':
      return `${tree(e.object)}.${e.property.name}`;
    case 'Tuple':
      return `tuple[${e.items.map(tree).join(', ')}]`;
    case 'Call':
      return `${e.callee.name}{${e.args.map((a) => (a.name ? `${a.name.name}=` : '') + tree(a.value)).join(', ')}}`;
    default:
      return formatExpr(e);
  }
};
const slice = (text: string, n: { span: { start: number; end: number } }) => text.slice(n.span.start, n.span.end);

describe('the sketch files parse', () => {
  it.each([
    ['gpt2', GPT2],
    ['llama', LLAMA],
    ['char-gpt', CHAR_GPT],
  ])('%s', (_, text) => {
    const file = clean(text);
    expect(file.items.length).toBeGreaterThan(0);
  });

  it('gives the expected items and entries', () => {
    const file = clean(CHAR_GPT);
    expect(file.items.map((i) => i.kind)).toEqual(['Import', 'Model', 'Train']);
    const [imp, m, t] = file.items;
    expect(imp?.kind === 'Import' && imp.path.value).toBe('../../specs/gpt2-small.model');
    expect(m?.kind === 'Model' && [m.name.name, m.base?.name]).toEqual(['char_gpt', 'gpt2_small']);
    expect(t?.kind === 'Train' && t.target.name).toBe('char_gpt');
    expect(t?.kind === 'Train' && t.body.map((e) => `${e.kind}:${e.key.name}`)).toEqual([
      'Assign:data',
      'Assign:tokenizer',
      'Assign:objective',
      'Assign:batch',
      'Assign:steps',
      'Assign:seed',
      'Assign:optimizer',
      'Assign:schedule',
      'Assign:clip',
      'Section:eval',
    ]);
  });
});

describe('entries', () => {
  it('distinguishes assignments, flags and sections', () => {
    const [a, b, c] = body('heads = 12\nattention { heads: 12, causal }\nbias');
    expect(a).toMatchObject({ kind: 'Assign', op: '=', key: { name: 'heads' } });
    expect(b).toMatchObject({ kind: 'Section', key: { name: 'attention' } });
    expect((b as SectionEntry).body.map((e) => e.kind)).toEqual(['Assign', 'Flag']);
    expect(c).toMatchObject({ kind: 'Flag', key: { name: 'bias' } });
  });

  it('accepts any number of optional separators, trailing ones included', () => {
    const entries = body('a: 1,, b: 2;; c; d,\n e { f: 1, g; }, ;');
    expect(entries.map((e) => e.key.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(clean('; model a {} ,, train a {} ;').items).toHaveLength(2);
  });

  it('parses one-line entries without separators', () => {
    expect(body('norm: layernorm(eps: 1e-5) placement: pre causal').map((e: Entry) => e.kind)).toEqual(['Assign', 'Assign', 'Flag']);
  });
});

describe('selectors', () => {
  const selector = (sel: string) => {
    const s = body(`block[${sel}] { x: 1 }`)[0] as SectionEntry;
    return s.selector!.items.map((i) =>
      i.kind === 'Index'
        ? `index ${formatExpr(i.value)}`
        : `slice ${i.start ? formatExpr(i.start) : '_'} ${i.stop ? formatExpr(i.stop) : '_'} ${i.step ? formatExpr(i.step) : '_'}`,
    );
  };

  it.each([
    ['3', ['index 3']],
    ['-1', ['index -1']],
    ['0:6', ['slice 0 6 _']],
    ['1::2', ['slice 1 _ 2']],
    ['::2', ['slice _ _ 2']],
    [':4', ['slice _ 4 _']],
    [':', ['slice _ _ _']],
    ['0, 2::4,', ['index 0', 'slice 2 _ 4']],
    ['layers - 1, n / 2 : n', ['index layers - 1', 'slice n / 2 n _']],
  ])('[%s]', (sel, expected) => {
    expect(selector(sel)).toEqual(expected);
  });

  it('rejects an empty selector', () => {
    expect(errors('model m {\n  block[] { x: 1 }\n}')).toEqual(["t.model:2:9: error MS1010: expected a layer index or slice, found ']'"]);
  });
});

describe('expressions', () => {
  it.each([
    ['a - b - c', '((a - b) - c)'],
    ['a - (b - c)', '(a - (b - c))'],
    ['a + b * c', '(a + (b * c))'],
    ['a * b + c % d', '((a * b) + (c % d))'],
    ['(a + b) * c', '((a + b) * c)'],
    ['8 * d_model / 3', '((8 * d_model) / 3)'],
    ['-a.b', '(-a.b)'],
    ['2 * -x', '(2 * (-x))'],
    ['- -x', '(-(-x))'],
    ['+4k', '(+4k)'],
    ['tokenizer.vocab', 'tokenizer.vocab'],
    ['(a + b).c.d', '(a + b).c.d'],
    ['(0.9, 0.95)', 'tuple[0.9, 0.95]'],
    ['(x,)', 'tuple[x]'],
    ['((x))', 'x'],
    ['adamw(lr: 3e-3, betas: (0.9, 0.95), 1,)', 'adamw{lr=3e-3, betas=tuple[0.9, 0.95], 1}'],
    ['f()', 'f{}'],
    ['round_to(8 * d / 3, 256)', 'round_to{((8 * d) / 3), 256}'],
    ['true', 'true'],
    ['none', 'none'],
    ['"s"', '"s"'],
  ])('%s', (src, shape) => {
    expect(tree(value(src))).toBe(shape);
  });
});

describe('spans', () => {
  it('cover each node’s text, nested nodes included', () => {
    const text = 'model m {\n  block[1::2, -1] { norm: layernorm(eps: 1e-5), hidden: (4 * d) + 1 }\n  x = a.b\n}';
    const m = model(text);
    expect(slice(text, m)).toBe(text);
    const [section, assign] = m.body as [SectionEntry, Entry];
    expect(slice(text, section)).toBe('block[1::2, -1] { norm: layernorm(eps: 1e-5), hidden: (4 * d) + 1 }');
    expect(slice(text, section.selector!)).toBe('[1::2, -1]');
    expect(section.selector!.items.map((i) => slice(text, i))).toEqual(['1::2', '-1']);
    const [norm, hidden] = section.body;
    expect(slice(text, norm!)).toBe('norm: layernorm(eps: 1e-5)');
    if (norm?.kind !== 'Assign' || norm.value.kind !== 'Call') throw new Error('shape');
    expect(slice(text, norm.value)).toBe('layernorm(eps: 1e-5)');
    expect(slice(text, norm.value.args[0]!)).toBe('eps: 1e-5');
    expect(slice(text, norm.value.args[0]!.name!)).toBe('eps');
    if (hidden?.kind !== 'Assign' || hidden.value.kind !== 'Binary') throw new Error('shape');
    expect(slice(text, hidden)).toBe('hidden: (4 * d) + 1');
    expect(slice(text, hidden.value)).toBe('(4 * d) + 1');
    expect(slice(text, hidden.value.left)).toBe('4 * d');
    expect(slice(text, assign)).toBe('x = a.b');
    expect(assign.kind === 'Assign' && slice(text, assign.value)).toBe('a.b');
  });

  it('are in range for every node of the sketch files', () => {
    for (const text of [GPT2, LLAMA, CHAR_GPT]) {
      for (const n of nodesWithSpans(parse(text, P).file)) {
        expect(n.span.start).toBeGreaterThanOrEqual(0);
        expect(n.span.end).toBeLessThanOrEqual(text.length);
        expect(n.span.start).toBeLessThanOrEqual(n.span.end);
      }
    }
  });
});

describe('syntax errors', () => {
  it('MS1010: expected a value', () => {
    expect(errors('model m {\n  x = ]\n}')).toEqual(["t.model:2:7: error MS1010: expected a value, found ']'"]);
    expect(errors('model m {\n  x = 1 + * 2\n}')).toEqual(["t.model:2:11: error MS1010: expected a value, found '*'"]);
  });

  it('MS1010: something that cannot start an entry', () => {
    expect(errors('model m {\n  heads: 12 ] causal\n}')).toEqual(["t.model:2:13: error MS1010: expected an entry or '}', found ']'"]);
    expect(errors('model m {\n  12: heads\n}')).toEqual(["t.model:2:3: error MS1010: expected an entry or '}', found '12'"]);
  });

  it('MS1010: a missing closing parenthesis or bracket', () => {
    expect(errors('model m {\n  x = f(a 1)\n}')).toEqual(["t.model:2:11: error MS1010: expected ',' or ')', found '1'"]);
    expect(errors('model m {\n  block[1 2] {}\n}')).toEqual(["t.model:2:11: error MS1010: expected ',' or ']', found '2'"]);
  });

  it('MS1010: junk in a header', () => {
    expect(errors('model a exends b {\n}')).toEqual(["t.model:1:9: error MS1010: expected '{', found 'exends'"]);
    expect(errors('model {\n}')).toEqual(["t.model:1:7: error MS1010: expected an identifier, found '{'"]);
  });

  it('MS1011: entries outside any model', () => {
    expect(errors('heads: 12\nmodel m {}')).toEqual([
      "t.model:1:1: error MS1011: unexpected 'heads'; a file contains only 'import', 'model' and 'train' items",
    ]);
    expect(errors('model m {}\n}')).toEqual(["t.model:2:1: error MS1011: unexpected '}'; there is no open block to close"]);
  });

  it('MS1012: unexpected end of file', () => {
    // A file cut off inside an expression: the expression's error, and the block left open.
    expect(errors('model m { x = 1 +')).toEqual([
      't.model:1:18: error MS1012: unexpected end of file; expected a value',
      "t.model:1:9: error MS1014: '{' of model 'm' is never closed",
    ]);
    expect(errors('import')).toEqual(['t.model:1:7: error MS1012: unexpected end of file; expected a string']);
  });

  it('points the caret at the offending token', () => {
    const text = 'model m {\n  x = 1 ] 2\n}';
    const d = parse(text, P).diagnostics[0]!;
    expect(text.slice(d.span!.start, d.span!.end)).toBe(']');
  });

  it('refuses absurd nesting without overflowing the stack', () => {
    const parens = (n: number) => `model m { x = ${'('.repeat(n)}1${')'.repeat(n)} }`;
    // The model's `{` is the first level.
    expect(errors(parens(MAX_NESTING - 1))).toEqual([]);
    expect(errors(parens(MAX_NESTING + 5))).toEqual([
      `t.model:1:${14 + MAX_NESTING}: error MS1011: unexpected '('; nesting is deeper than ${MAX_NESTING} levels`,
    ]);
    expect(errors(`model m { x = ${'-'.repeat(MAX_NESTING - 1)}1 }`)).toEqual([]);
    expect(errors(`model m { x = ${'- '.repeat(5000)}1 }`)).toEqual([
      `t.model:1:${13 + 2 * MAX_NESTING}: error MS1011: unexpected '-'; nesting is deeper than ${MAX_NESTING} levels`,
    ]);
  });
});

describe('recovery', () => {
  it('reports two separate errors and keeps the rest of the AST', () => {
    const text = [
      'model a {',
      '  vocab = 50257',
      '  heads = 12 +',
      '  attention { causal, bias: true }',
      '  context = 1024',
      '}',
      '',
      'model b extends a {',
      '  mlp { hidden: (4 * d_model }',
      '  layers = 4',
      '}',
      'train b { steps = 100 }',
    ].join('\n');
    const r = parse(text, P);
    expect(firstLines(r.diagnostics, P, text)).toEqual([
      "t.model:4:13: error MS1010: expected an entry or '}', found '{'",
      "t.model:9:30: error MS1010: expected ',' or ')', found '}'",
    ]);
    const [a, b, t] = r.file.items;
    expect(a?.kind === 'Model' && a.body.map((e) => e.key.name)).toEqual(['vocab', 'heads', 'context']);
    expect(b?.kind === 'Model' && b.body.map((e) => e.key.name)).toEqual(['mlp', 'layers']);
    expect(t?.kind === 'Train' && t.body.map((e) => e.key.name)).toEqual(['steps']);
  });

  it('a missing `}` ends the block at the next item', () => {
    const r = parse('model a {\n  x = 1\nmodel b { y = 2 }', P);
    expect(firstLines(r.diagnostics, P, '')).toHaveLength(1);
    expect(r.file.items.map((i) => (i.kind === 'Model' ? i.name.name : ''))).toEqual(['a', 'b']);
  });

  it('drops an incomplete entry but keeps its neighbours', () => {
    const r = parse('model m {\n  a = 1\n  b = f(x: )\n  c = 3\n}', P);
    expect(r.diagnostics).toHaveLength(1);
    const m = r.file.items[0];
    expect(m?.kind === 'Model' && m.body.map((e) => e.key.name)).toEqual(['a', 'c']);
  });

  it('reports a keyword used as a knob name once, and keeps going', () => {
    const text = 'train t {\n  model = gpt\n  steps = 10\n}\nmodel b { x = 1 }';
    const r = parse(text, P);
    expect(firstLines(r.diagnostics, P, text)).toEqual([
      "t.model:2:3: error MS1011: unexpected 'model'; 'model' is a keyword and cannot name a knob",
    ]);
    expect(r.file.items.map((i) => i.kind)).toEqual(['Train', 'Model']);
  });

  it('reports a lexical error once, not again as a parse error', () => {
    const text = 'model m {\n  x = 4kb\n  y = "open\n}';
    expect(errors(text)).toEqual([
      "t.model:2:7: error MS1003: invalid number '4kb'",
      't.model:3:7: error MS1002: unterminated string literal',
    ]);
  });
});
