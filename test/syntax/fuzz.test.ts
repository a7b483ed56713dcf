/**
 * Property: `parse` never throws and never hits an internal error on any input, every
 * diagnostic is located inside the text, every AST span is in range, and a file that parses
 * cleanly formats to text that parses to the same AST and formats to itself.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatFile } from '../../compiler/ast/print.js';
import { parse } from '../../compiler/ast/parse.js';
import { nodesWithSpans, shape } from './ast-utils.js';
import { SEEDS } from './seeds.js';

const PATH = 'fuzz.model';

/** Fragments worth inserting: every token kind, almost-tokens, and trouble-makers. */
const SNIPPETS = [
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  ',',
  ';',
  ':',
  '=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '.',
  'model',
  'train',
  'import',
  'extends',
  'true',
  'false',
  'none',
  'block',
  'x',
  '_',
  '0',
  '12',
  '1e-5',
  '4k',
  '4Ki',
  '1_000',
  '1__0',
  '4kb',
  '.5',
  '1.',
  '2.5e3',
  '"s"',
  '"',
  '"\\q"',
  '//',
  '/*',
  '*/',
  '\n',
  ' ',
  '\t',
  '\r\n',
  '@',
  '#',
  '\u0000',
  '😀',
  '\uFEFF',
  'model m {',
  'block[1::2] {',
  'f(a: 1,',
  '(0.9, 0.95)',
  'x: ',
  'y = ',
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
/** Trivia inserted next to existing whitespace: mostly still valid, so it exercises the formatter. */
const TRIVIA = [' ', '\n', '\n\n', '\t', ',', ';', '// note\n', '/* c */', '/* two\n   lines */', '\n// own line\n'];
const withTrivia = fc
  .tuple(fc.constantFrom(...SEEDS), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...TRIVIA)), { minLength: 1, maxLength: 8 }))
  .map(([seed, inserts]) =>
    inserts.reduce((text, [n, t]) => {
      const spaces = [...text.matchAll(/\s/g)].map((m) => m.index);
      const at = spaces[n % spaces.length] ?? 0;
      return text.slice(0, at) + t + text.slice(at);
    }, seed),
  );
/** Token soup: grammatical-looking noise that drives the parser's recovery hard. */
const soup = fc.array(fc.constantFrom(...SNIPPETS), { maxLength: 60 }).map((xs) => xs.join(' '));
const input = fc.oneof(
  { weight: 5, arbitrary: mutatedSeed },
  { weight: 2, arbitrary: withTrivia },
  { weight: 2, arbitrary: soup },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
);

const inRange = (s: { start: number; end: number }, length: number) =>
  Number.isInteger(s.start) && Number.isInteger(s.end) && 0 <= s.start && s.start <= s.end && s.end <= length;

/** Plain checks collected into one list (one `expect` per case keeps 10,000 runs fast). */
function problems(text: string): string[] {
  const out: string[] = [];
  const r = parse(text, PATH);
  for (const d of r.diagnostics) {
    if (!/^MS1\d{3}$/.test(d.code)) out.push(`unexpected code ${d.code}: ${d.message}`);
    if (!d.span || d.span.file !== PATH || !inRange(d.span, text.length)) out.push(`bad span on ${d.code}: ${JSON.stringify(d.span)}`);
  }
  for (const n of nodesWithSpans(r.file)) {
    if (n.span.file !== PATH || !inRange(n.span, text.length)) out.push(`bad span on ${n.kind}: ${JSON.stringify(n.span)}`);
  }
  if (r.diagnostics.length > 0 || out.length > 0) return out;

  const formatted = formatFile(r.file, text);
  const again = parse(formatted, PATH);
  if (again.diagnostics.length > 0) return [`formatted text has errors: ${again.diagnostics[0]!.message}`, formatted];
  if (JSON.stringify(shape(again.file)) !== JSON.stringify(shape(r.file))) out.push('formatting changed the AST', formatted);
  if (again.file.comments.map((c) => c.text).join('\n') !== r.file.comments.map((c) => c.text).join('\n'))
    out.push('formatting changed the comments', formatted);
  if (formatFile(again.file, formatted) !== formatted) out.push('formatting is not idempotent', formatted);
  return out;
}

describe('parse on arbitrary input', () => {
  it('the seeds parse cleanly', () => {
    for (const seed of SEEDS) expect(parse(seed, PATH).diagnostics).toEqual([]);
  });

  it('never throws, locates every diagnostic, and formats clean results faithfully', () => {
    fc.assert(
      fc.property(input, (text) => {
        expect(problems(text)).toEqual([]);
      }),
      { numRuns: 10_000 },
    );
  }, 60_000);
});
