/**
 * Property: `parse` never throws and never hits an internal error on any input, every
 * diagnostic is located inside the text, every AST span is in range, and a file that parses
 * cleanly formats to text that parses to the same AST and formats to itself.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatFile } from '../../compiler/ast/print.js';
import { parse } from '../../compiler/syntax/parse.js';
import { nodesWithSpans, shape } from './ast-utils.js';
import { SEEDS } from './seeds.js';

const PATH = 'fuzz.model';

/** Fragments worth inserting: every token kind, almost-tokens, and trouble-makers. */
const SNIPPETS = [
  '{', '}', '[', ']', '(', ')', ',', ';', ':', '=', '+', '-', '*', '/', '%', '.',
  'model', 'train', 'import', 'extends', 'true', 'false', 'none', 'block', 'x', '_',
  '0', '12', '1e-5', '4k', '4Ki', '1_000', '1__0', '4kb', '.5', '1.', '2.5e3',
  '"s"', '"', '"\\q"', '//', '/*', '*/', '\n', ' ', '\t', '\r\n', '@', '#', '\u0000', '😀', '\uFEFF',
  'model m {', 'block[1::2] {', 'f(a: 1,', '(0.9, 0.95)', 'x: ', 'y = ',
];

type Mutation =
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'swap'; a: number; b: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...SNIPPETS), fc.string({ maxLength: 4, unit: 'binary' })),
  }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(text: string, m: Mutation): string {
  const n = text.length + 1;
  switch (m.kind) {
    case 'delete': {
      const at = m.at % n;
      return text.slice(0, at) + text.slice(at + m.len);
    }
    case 'insert': {
      const at = m.at % n;
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case 'swap': {
      const [a, b] = [m.a % n, m.b % n].sort((x, y) => x - y) as [number, number];
      const len = Math.min(m.len, b - a);
      if (len <= 0) return text;
      return text.slice(0, a) + text.slice(b, b + len) + text.slice(a + len, b) + text.slice(a, a + len) + text.slice(b + len);
    }
  }
}

const mutatedSeed = fc
  .tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 6 }))
  .map(([seed, ms]) => ms.reduce(mutate, seed));
/** Token soup: grammatical-looking noise that drives the parser's recovery hard. */
const soup = fc.array(fc.constantFrom(...SNIPPETS), { maxLength: 60 }).map((xs) => xs.join(' '));
const input = fc.oneof(
  { weight: 6, arbitrary: mutatedSeed },
  { weight: 2, arbitrary: soup },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
);

function check(text: string): void {
  const r = parse(text, PATH);
  for (const d of r.diagnostics) {
    expect(d.code).toMatch(/^MS1\d{3}$/);
    expect(d.span).toBeDefined();
    const s = d.span!;
    expect(s.file).toBe(PATH);
    expect(Number.isInteger(s.start) && Number.isInteger(s.end)).toBe(true);
    expect(0 <= s.start && s.start <= s.end && s.end <= text.length).toBe(true);
  }
  for (const n of nodesWithSpans(r.file)) {
    const s = n.span;
    expect(Number.isInteger(s.start) && Number.isInteger(s.end) && 0 <= s.start && s.start <= s.end && s.end <= text.length).toBe(true);
  }
  if (r.diagnostics.length > 0) return;
  const formatted = formatFile(r.file, text);
  const again = parse(formatted, PATH);
  expect(again.diagnostics).toEqual([]);
  expect(shape(again.file)).toEqual(shape(r.file));
  expect(again.file.comments.map((c) => c.text)).toEqual(r.file.comments.map((c) => c.text));
  expect(formatFile(again.file, formatted)).toBe(formatted);
}

describe('parse on arbitrary input', () => {
  it('the seeds parse cleanly', () => {
    for (const seed of SEEDS) expect(parse(seed, PATH).diagnostics).toEqual([]);
  });

  it('never throws, locates every diagnostic, and formats clean results faithfully', () => {
    fc.assert(fc.property(input, (text) => check(text)), { numRuns: 10_000 });
  }, 60_000);
});
