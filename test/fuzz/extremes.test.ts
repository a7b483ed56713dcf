/**
 * Fuzz at the edges: specs whose every size knob is drawn from numeric extremes (0, -1, 2^53,
 * 1e30, 1e999, the top of each range and one past it, text that is not a number), files in
 * odd encodings, and small specs taken on down through the GPU plans (inference and
 * training) against fixed device limits, with no GPU. Acceptable outcomes are located
 * diagnostics, MS4001/MS4002 refusals and exact, finite counts; a throw, an internal error
 * (MS9001), an inexact count or a slow case is a failure. The seed varies per run (seed.ts).
 */
import { DEFAULT_BINDING_LIMITS } from '../../runtime/gpu/limits.js';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSource } from '../../compiler/semantics/node-host.js';
import { compileForGpu } from '../../compiler/schedule/compile-model.js';
import { checkTrainSupport } from '../../compiler/codegen/train-support.js';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.js';
import { compileFile, type CompileResult } from '../../compiler/index.js';
import { toJson } from '../../compiler/passes/analyze.js';
import { UnsupportedOpError } from '../../compiler/schedule/fuse.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import type { Host } from '../../compiler/semantics/resolve.js';
import { fuzzSeed, withSeed } from './seed.js';

const SEED = fuzzSeed();
const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000);
const FILE = 'fuzz.model';

function memoryHost(
  text: string,
  problem?: ReturnType<typeof decodeSource>['problem'],
): Host & { encodingProblem(p: string): typeof problem } {
  return {
    readFile: (p) => (p === FILE ? text : { error: 'no such file' }),
    charVocab: () => 65,
    encodingProblem: (p) => (p === FILE ? problem : undefined),
  };
}

/** Every number anywhere in the analysis JSON, with its path. */
function numbers(v: unknown, path = ''): [string, number][] {
  if (typeof v === 'number') return [[path, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => numbers(x, `${path}[${i}]`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => numbers(x, path ? `${path}.${k}` : k));
  return [];
}

/** The invariants every compile must keep, whatever the input. */
function checkResult(r: CompileResult, text: string, analyzed = true): void {
  const internal = r.diagnostics.filter((d) => d.code === 'MS9001');
  expect(internal, `${internal.map((d) => d.message).join('\n')}\n--- input ---\n${text}`).toEqual([]);
  for (const d of r.diagnostics) {
    expect(d.code).toMatch(/^MS\d{4}$/);
    if (d.span) expect(d.span.start >= 0 && d.span.end <= text.length, `span out of the text: ${d.message}`).toBe(true);
  }
  if (r.diagnostics.some((d) => d.severity === 'error')) return;
  expect(r.models.length, `no error and no model:\n${text}`).toBeGreaterThan(0);
  if (!analyzed) return;
  for (const m of r.models) {
    expect(m.ok && m.analysis, `no error but model ${m.spec.name} failed:\n${text}`).toBeTruthy();
    const json = toJson(m.analysis!);
    for (const [path, n] of numbers(json)) {
      expect(Number.isFinite(n), `${path} = ${n}\n${text}`).toBe(true);
      // Counts are exact; compute-optimal FLOPs and ratios are estimates.
      if (!/compute_optimal\.flops|tokens_per_param/.test(path))
        expect(Number.isSafeInteger(n), `${path} = ${n} is not an exact count\n${text}`).toBe(true);
    }
  }
}

const EXTREMES = [
  '0',
  '-1',
  '1',
  '2',
  '3',
  '7',
  '64',
  '1.5',
  '1e30',
  '1e999',
  '9007199254740992',
  '9007199254740993',
  '4Ki',
  '16Mi',
  '16Mi + 1',
  '128Ki',
  '1Mi',
  '1024',
  '1025',
  '4096',
  '4097',
  '65536',
  'NaN',
  '0x10',
  '1_000',
  'd_model',
  'none',
  '"8"',
  'true',
];
const SMALL = ['1', '2', '4', '8', '16', '32', '64', '0', '-1', '3', 'none', '1e30'];

/** Mostly a sane value (undefined = leave the knob out), sometimes one of `values`. */
const knob = (values: readonly string[], sane: string | undefined) =>
  fc.oneof({ weight: 5, arbitrary: fc.constant(sane) }, { weight: 1, arbitrary: fc.constantFrom(...values) });

const specArb = (values: readonly string[], layersValues: readonly string[]) =>
  fc.record({
    arch: fc.constantFrom('decoder', 'decoder', 'encoder', 'encoder_decoder'),
    vocab: knob(values, '100'),
    context: knob(values, '64'),
    d_model: knob(values, '64'),
    layers: knob(layersValues, '2'),
    heads: knob(values, '4'),
    kv_heads: knob(values, undefined),
    head_dim: knob(values, undefined),
    window: knob(values, undefined),
    hidden: knob(values, undefined),
    activation: fc.constantFrom('gelu', 'swiglu'),
    experts: knob(values, undefined),
    top_k: knob(values, undefined),
    shared_experts: knob(values, undefined),
    positions: fc.constantFrom('learned', 'rope', 'alibi', 'relative(buckets: 32, max_distance: 128)', 'none'),
    segments: knob(values, undefined),
    pooler: fc.boolean(),
    batch: knob(values, undefined),
    seq_len: knob(values, undefined),
    steps: knob(values, undefined),
  });

type SpecKnobs = Readonly<Record<string, string | boolean | undefined>>;

function specText(k: SpecKnobs): string {
  const set = (name: string, v: unknown) => (v === undefined ? '' : `${name}: ${String(v)}, `);
  const stack = k.arch === 'encoder_decoder' ? `encoder { ${set('layers', k.layers)}} decoder { ${set('layers', k.layers)}}` : '';
  return [
    'model m {',
    `  arch = ${k.arch}`,
    `  ${['vocab', 'context', 'd_model', 'layers']
      .map((n) => set(n, k[n]))
      .join('')
      .replace(/: /g, ' = ')
      .replace(/, $/, '')}`,
    `  embedding { positions: ${k.positions}, ${set('segments', k.segments)}}`,
    `  block { attention { ${['heads', 'kv_heads', 'head_dim', 'window'].map((n) => set(n, k[n])).join('')}} mlp { activation: ${k.activation}, ${['hidden', 'experts', 'top_k', 'shared_experts'].map((n) => set(n, k[n])).join('')}} }`,
    `  head { pooler: ${k.pooler} }`,
    `  ${stack}`,
    '}',
    `train m { ${['batch', 'seq_len', 'steps']
      .map((n) => set(n, k[n]))
      .join('')
      .replace(/: /g, ' = ')}}`,
    '',
  ].join('\n');
}

/** check (no analysis), then info (analysis); each must be quick whatever the sizes. */
function checkAndInfo(text: string): CompileResult {
  const host = memoryHost(text);
  const t0 = performance.now();
  checkResult(compileFile(FILE, { host, analyze: false }), text, false);
  const r = compileFile(FILE, { host });
  checkResult(r, text);
  expect(performance.now() - t0, `slow case:\n${text}`).toBeLessThan(5_000);
  return r;
}

describe('fuzz: numeric extremes through check and info', () => {
  it(`${RUNS / 4} specs with extreme sizes (seed ${SEED})`, () => {
    let clean = 0;
    withSeed(SEED, () =>
      fc.assert(
        fc.property(specArb(EXTREMES, ['1', '2', '1024', '1025', '0', '-1', '1e30', '9007199254740993']), (k) => {
          const r = checkAndInfo(specText(k as SpecKnobs));
          if (!r.diagnostics.some((d) => d.severity === 'error')) clean++;
        }),
        { numRuns: RUNS / 4, seed: SEED },
      ),
    );
    expect(clean, 'no extreme spec ever passed: the generator tests only rejections').toBeGreaterThan(0);
  }, 120_000);
});

describe('fuzz: small specs on down through the GPU plans (fixed limits, no GPU)', () => {
  const acceptable = (ds: readonly Diagnostic[]) =>
    ds.filter((d) => d.severity === 'error').every((d) => d.code === 'MS4001' || d.code === 'MS4002');
  it(`${RUNS / 20} small specs: plans or MS4001/MS4002, nothing else (seed ${SEED})`, () => {
    let planned = 0;
    withSeed(SEED + 1, () =>
      fc.assert(
        fc.property(specArb(SMALL, ['1', '2', '3']), (k) => {
          const text = specText({ ...(k as SpecKnobs), arch: k.arch === 'encoder_decoder' ? 'decoder' : k.arch });
          const r = checkAndInfo(text);
          for (const m of r.models) {
            if (!m.ok || !m.graph) continue;
            const c = compileForGpu(
              m.spec,
              m.graph,
              { entry: FILE, files: { [FILE]: text } },
              { tuning: 'cpu', tokenizer: null, limits: DEFAULT_BINDING_LIMITS },
            );
            expect(acceptable(c.diagnostics), `${c.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n')}\n${text}`).toBe(true);
            if (c.data) planned++;
            const t = m.spec.train;
            if (!c.data || !t || checkTrainSupport(m.spec, t).hasErrors) continue;
            try {
              const plan = planTraining(m.spec, m.graph, {
                B: t.batch,
                T: t.seq_len,
                clip: t.clip,
                accumulation: t.accumulation,
                tuning: 'cpu',
              });
              expect(plan.steps.length).toBeGreaterThan(0);
            } catch (e) {
              if (!(e instanceof UnsupportedOpError)) throw e;
            }
          }
        }),
        { numRuns: RUNS / 20, seed: SEED + 1 },
      ),
    );
    expect(planned, 'no small spec reached the GPU plans').toBeGreaterThan(0);
  }, 120_000);
});

describe('fuzz: odd encodings', () => {
  const text = readFileSync('specs/gpt2-small.model', 'utf8');
  const BAD = [[0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf5, 0x80, 0x80, 0x80], [0x80], [0x00]];
  const encoding = fc.oneof(
    fc.record({ kind: fc.constant('utf16' as const), be: fc.boolean(), bom: fc.boolean() }),
    fc.record({ kind: fc.constant('bad' as const), at: fc.nat(), bytes: fc.constantFrom(...BAD), bom: fc.boolean() }),
    fc.record({ kind: fc.constant('bom' as const) }),
  );
  it(`${RUNS / 20} re-encoded specs: one MS1020 at the bad byte, or the same result as UTF-8 (seed ${SEED})`, () => {
    const plain = compileFile(FILE, { host: memoryHost(text) });
    withSeed(SEED + 2, () =>
      fc.assert(
        fc.property(encoding, (e) => {
          const utf8 = Buffer.from(text, 'utf8');
          let bytes: Buffer;
          if (e.kind === 'utf16') {
            const le = Buffer.from(text, 'utf16le');
            const body = e.be ? Buffer.from(le).swap16() : le;
            bytes = Buffer.concat([e.bom ? Buffer.from(e.be ? [0xfe, 0xff] : [0xff, 0xfe]) : Buffer.alloc(0), body]);
          } else if (e.kind === 'bad') {
            // Insert at a character boundary, so the only bad bytes are ours.
            const at = Buffer.byteLength(text.slice(0, e.at % text.length));
            bytes = Buffer.concat([
              e.bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0),
              utf8.subarray(0, at),
              Buffer.from(e.bytes),
              utf8.subarray(at),
            ]);
          } else bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]);
          const d = decodeSource(bytes);
          const r = compileFile(FILE, { host: memoryHost(d.text, d.problem) });
          checkResult(r, d.text);
          if (e.kind === 'bom') {
            expect(d.problem).toBeUndefined();
            expect(r.diagnostics).toEqual(plain.diagnostics);
            return;
          }
          expect(r.diagnostics.map((x) => x.code)).toEqual(['MS1020']);
          if (e.kind === 'utf16') expect(r.diagnostics[0]!.message).toContain(`UTF-16 ${e.be ? 'BE' : 'LE'}`);
          else expect(r.diagnostics[0]!.span!.start).toBe(e.at % text.length);
        }),
        { numRuns: RUNS / 20, seed: SEED + 2 },
      ),
    );
  }, 60_000);
});
