/**
 * The whole front end (parse → resolve → lower → verify → analyse) on mutated copies of the
 * bundled specs: deletions, insertions, swapped tokens, random bytes. It must never throw,
 * never report an internal error, and every failure must be a located diagnostic.
 *
 * The seed changes every run (FUZZ_SEED replays one; a failure prints it), so CI keeps
 * exploring instead of replaying one fixed path; FUZZ_RUNS sets the number of cases.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import type { Host } from '../../compiler/semantics/resolve.js';
import { fuzzSeed, withSeed } from './seed.js';

const SPEC_DIR = 'specs';
const specs = new Map(
  readdirSync(SPEC_DIR)
    .filter((f) => f.endsWith('.model'))
    .map((f) => [posix.join(SPEC_DIR, f), readFileSync(join(SPEC_DIR, f), 'utf8')]),
);
const names = [...specs.keys()];
const FRAGMENTS = [
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
  '.',
  '-',
  '*',
  '/',
  '%',
  '"',
  '//',
  '/*',
  'model',
  'extends',
  'import',
  'train',
  'block',
  'attention',
  'heads',
  'kv_heads',
  'mlp',
  'experts',
  'top_k',
  'window',
  'none',
  'true',
  '0',
  '-1',
  '1e999',
  '4Ki',
  '3.7',
  'd_model',
  'tokenizer.vocab',
  'block[1::2]',
  'rope(base: 0)',
  '\n',
  ' ',
];

const tokenize = (s: string) => s.match(/[A-Za-z_][A-Za-z0-9_]*|[0-9][0-9_.eE+-]*[A-Za-z]*|"[^"\n]*"|\/\/[^\n]*|\s+|[\s\S]/g) ?? [];

type Mutation =
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'swap'; i: number; j: number }
  | { kind: 'replace'; at: number; text: string }
  | { kind: 'bytes'; at: number; bytes: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...FRAGMENTS) }),
  fc.record({ kind: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: fc.constantFrom(...FRAGMENTS) }),
  fc.record({
    kind: fc.constant('bytes' as const),
    at: fc.nat(),
    bytes: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 4 }),
  }),
);

function apply(text: string, m: Mutation): string {
  const toks = tokenize(text);
  if (toks.length === 0) return text;
  switch (m.kind) {
    case 'delete':
      toks.splice(m.at % toks.length, m.len);
      break;
    case 'insert':
      toks.splice(m.at % (toks.length + 1), 0, m.text);
      break;
    case 'swap': {
      const i = m.i % toks.length;
      const j = m.j % toks.length;
      [toks[i], toks[j]] = [toks[j]!, toks[i]!];
      break;
    }
    case 'replace':
      toks[m.at % toks.length] = m.text;
      break;
    case 'bytes':
      toks.splice(m.at % (toks.length + 1), 0, String.fromCharCode(...m.bytes));
      break;
  }
  return toks.join('');
}

const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000);
const SEED = fuzzSeed();

describe('front-end fuzz', () => {
  it(`never throws on ${RUNS} mutated specs and always explains failures (seed ${SEED})`, () => {
    let failures = 0;
    withSeed(SEED, () =>
      fc.assert(
        fc.property(fc.constantFrom(...names), fc.array(mutation, { minLength: 1, maxLength: 4 }), (name, ms) => {
          const mutated = ms.reduce(apply, specs.get(name)!);
          const files = new Map(specs);
          files.set(name, mutated);
          const host: Host = {
            readFile: (p) => files.get(p) ?? { error: 'no such file' },
            charVocab: () => 65,
          };
          const r = compileFile(name, { host });
          const internal = r.diagnostics.filter((d) => d.code === 'MS9001');
          expect(internal, `${internal.map((d) => d.message).join('\n')}\n--- input ---\n${mutated}`).toEqual([]);
          const errors = r.diagnostics.filter((d) => d.severity === 'error');
          if (errors.length > 0) failures++;
          else
            expect(
              r.models.every((m) => m.ok && m.analysis),
              `no error but a model failed:\n${mutated}`,
            ).toBe(true);
          for (const d of r.diagnostics) {
            expect(d.code).toMatch(/^MS\d{4}$/);
            if (!d.span) continue;
            const src = files.get(d.span.file);
            expect(src, `diagnostic in unknown file ${d.span.file}`).toBeDefined();
            expect(Number.isFinite(d.span.start) && Number.isFinite(d.span.end)).toBe(true);
            expect(d.span.start).toBeGreaterThanOrEqual(0);
            expect(d.span.end).toBeLessThanOrEqual(src!.length);
          }
        }),
        { numRuns: RUNS, seed: SEED },
      ),
    );
    // Most mutations break something; a fuzzer that never hits an error tests nothing.
    expect(failures).toBeGreaterThan(RUNS / 2);
  }, 300_000);
});
