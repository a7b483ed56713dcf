import { describe, expect, it } from 'vitest';
import { numberValue, decodeString } from '../../compiler/syntax/literals.js';
import { tokenize } from '../../compiler/syntax/lexer.js';
import { parse } from '../../compiler/ast/parse.js';
import { firstLines } from './ast-utils.js';

const P = 't.model';
const kinds = (text: string) => tokenize(text, P).tokens.map((t) => `${t.tokenType.name}:${t.image}`);
const errors = (text: string) => firstLines(parse(text, P).diagnostics, P, text);
/** The value of `x` in `model m { x = <expr> }`. */
const valueOf = (expr: string) => {
  const r = parse(`model m { x = ${expr} }`, P);
  const item = r.file.items[0];
  if (item?.kind !== 'Model' || item.body[0]?.kind !== 'Assign') throw new Error(`no value in ${expr}`);
  return item.body[0].value;
};

describe('numbers', () => {
  it.each([
    ['768', 768],
    ['32_000', 32000],
    ['1_000_000', 1e6],
    ['1e-5', 1e-5],
    ['0.9', 0.9],
    ['2.5e3', 2500],
    ['1E+2', 100],
    ['4k', 4000],
    ['1.5M', 1_500_000],
    ['7B', 7e9],
    ['2T', 2e12],
    ['4Ki', 4096],
    ['32Ki', 32768],
    ['1Mi', 1024 ** 2],
    ['2Gi', 2 * 1024 ** 3],
    ['0.1k', 100],
    ['1.1M', 1_100_000],
    ['007', 7],
  ])('%s = %d', (raw, value) => {
    expect(numberValue(raw)).toBe(value);
    expect(valueOf(raw)).toMatchObject({ kind: 'Number', value, raw });
  });

  it('rounds only what is within 1e-9 of an integer', () => {
    expect(Number.isInteger(numberValue('1.5M'))).toBe(true);
    expect(numberValue('0.3')).toBe(0.3);
    expect(numberValue('1e-12')).toBe(1e-12);
  });

  it.each(['4kb', '1_', '1__0', '.5', '1e', '1.2.3', '2x', '4K', '1e999', '3_k', '1._5'])('%s is invalid (MS1003)', (raw) => {
    expect(numberValue(raw)).toBeUndefined();
    const lines = errors(`model m {\n  x = ${raw}\n}`);
    expect(lines).toEqual([`t.model:2:7: error MS1003: invalid number '${raw}'`]);
  });

  it('a detached suffix is a separate word, not part of the number', () => {
    expect(kinds('4 k')).toEqual(['NumberLiteral:4', 'Identifier:k']);
    expect(kinds('2k-1')).toEqual(['NumberLiteral:2k', 'Minus:-', 'NumberLiteral:1']);
    expect(kinds('4*d_model')).toEqual(['NumberLiteral:4', 'Star:*', 'Identifier:d_model']);
  });
});

describe('strings', () => {
  it('decodes the four escapes', () => {
    expect(decodeString(String.raw`"a\"b\\c\nd\te"`)).toEqual({ value: 'a"b\\c\nd\te', terminated: true, badEscapes: [] });
    expect(valueOf('"moby-dick"')).toMatchObject({ kind: 'String', value: 'moby-dick', raw: '"moby-dick"' });
  });

  it('reports an unterminated string (MS1002), ending it at the newline', () => {
    const text = 'model m {\n  data = "moby\n  x = 1\n}';
    expect(errors(text)).toEqual(['t.model:2:10: error MS1002: unterminated string literal']);
    const item = parse(text, P).file.items[0];
    expect(item?.kind === 'Model' && item.body.map((e) => e.key.name)).toEqual(['data', 'x']);
  });

  it('reports an unknown escape (MS1011)', () => {
    expect(errors('import "a\\qb"')).toEqual([
      String.raw`t.model:1:10: error MS1011: unexpected escape '\q'; strings may only use \", \\, \n and \t`,
    ]);
  });
});

describe('words and symbols', () => {
  it('keywords are whole words only', () => {
    expect(kinds('model modelx none none_of true1 train import extends false')).toEqual([
      'Kw_model:model',
      'Identifier:modelx',
      'Kw_none:none',
      'Identifier:none_of',
      'Identifier:true1',
      'Kw_train:train',
      'Kw_import:import',
      'Kw_extends:extends',
      'Kw_false:false',
    ]);
  });

  it('`//` always starts a comment (there is no floor-division operator)', () => {
    expect(kinds('a // b\nc / d')).toEqual(['Identifier:a', 'Identifier:c', 'Slash:/', 'Identifier:d']);
  });

  it('collects comments in source order with their spans', () => {
    const text = 'model m { // one\n  /* two */ x = 1 }\n// three';
    const { file } = parse(text, P);
    expect(file.comments.map((c) => [c.text, text.slice(c.span.start, c.span.end)])).toEqual([
      ['// one', '// one'],
      ['/* two */', '/* two */'],
      ['// three', '// three'],
    ]);
  });

  it('reports an unterminated block comment (MS1004)', () => {
    expect(errors('model m {}\n  /* never closed\n')).toEqual(['t.model:2:3: error MS1004: unterminated block comment']);
  });

  it('reports an unknown character once per run (MS1001)', () => {
    expect(errors('model m {\n  heads: 12 @@@\n}')).toEqual(["t.model:2:13: error MS1001: unexpected character '@'"]);
    expect(errors('model m { a: 1 😀 }')).toEqual(["t.model:1:16: error MS1001: unexpected character '😀'"]);
    expect(errors('model m { a: 1 \u0007 }')).toEqual(["t.model:1:16: error MS1001: unexpected character 'U+0007'"]);
  });

  it('treats a byte-order mark and CRLF as whitespace', () => {
    expect(errors('\uFEFFmodel m {\r\n  a = 1\r\n}\r\n')).toEqual([]);
  });
});
