/** `mspec profile` as a user runs it: the table, --json for scripts, --svg, --train, and wrong inputs. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { mspec, ROOT } from './run-cli.js';

const TMP = mkdtempSync(join(tmpdir(), 'mspec-profile-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const QUICK = ['--steps', '2', '--warmup', '1'];

interface Json {
  model: string;
  method: string;
  runs: number;
  plans: {
    name: string;
    steps: { index: number; scope: string; name: string; kind: string; ms: number; rawMs: number; flops: number; share: number }[];
    kinds: { kind: string; steps: number; ms: number; share: number }[];
    totals: { stepsMs: number; rawStepsMs: number; measuredMs: number; outsideMs: number; wallMs: number; flops: number };
  }[];
}

function profileJson(...args: string[]): Json {
  const r = mspec('profile', ...args, ...QUICK, '--json');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Json;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('mspec profile', () => {
  it('--json: one entry per step of each plan with its time, its share and the FLOPs of the plan it ran', () => {
    const j = profileJson('specs/char-gpt.model');
    expect(j.model).toBe('char_gpt');
    expect(j.method).toBe('timestamps');
    expect(j.runs).toBe(2);
    expect(j.plans.map((p) => p.name)).toEqual(['decode', 'prefill']);
    // The plans as `mspec sample` compiles them for this adapter (lavapipe: the cpu tuning).
    const { data } = compileGpu(join(ROOT, 'specs/char-gpt.model'), { tuning: 'cpu', subgroupMinSize: 8 }).models[0]!;
    for (const p of j.plans) {
      const plan = data.plans[p.name as 'decode' | 'prefill'];
      expect(p.steps.map((s) => s.index)).toEqual(plan.steps.map((_, i) => i));
      expect(p.steps.map((s) => s.scope)).toEqual(plan.steps.map((s) => s.scope));
      expect(p.steps.map((s) => s.flops)).toEqual(plan.steps.map((s) => (s.kind === 'kernel' ? plan.kernels[s.kernel]!.flops : 0)));
      expect(p.totals.flops).toBe(sum(p.steps.map((s) => s.flops)));
      for (const s of p.steps) {
        expect(s.rawMs).toBeGreaterThan(0);
        expect(s.ms).toBeGreaterThanOrEqual(0);
      }
      expect(sum(p.steps.map((s) => s.share))).toBeCloseTo(1, 6);
      expect(sum(p.kinds.map((k) => k.share))).toBeCloseTo(1, 6);
      expect(sum(p.kinds.map((k) => k.steps))).toBe(plan.steps.length);
      const kinds = p.kinds.map((k) => k.kind);
      expect(kinds).toEqual(expect.arrayContaining(['matmul', 'attention', 'norm', 'embedding', 'sample']));
      // A kind per family, whatever the kernels are called: copies only where the plan has copy steps.
      expect(kinds.includes('copy')).toBe(plan.steps.some((s) => s.kind === 'cache_write' || s.kind === 'copy'));
      expect(kinds.length).toBeLessThanOrEqual(6);
      expect(p.totals.measuredMs).toBeGreaterThan(0);
      expect(p.totals.wallMs).toBeGreaterThan(0);
      expect(p.totals.rawStepsMs).toBeGreaterThanOrEqual(p.totals.stepsMs);
    }
  }, 300_000);

  it('prints a table per plan, the sums against the measured step, and writes the chart', () => {
    const svg = join(TMP, 'profile.svg');
    const r = mspec('profile', 'test/fixtures/torch/torch_bert.model', ...QUICK, '--svg', svg);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('timing: GPU timestamp queries, each step in a compute pass of its own; medians of 2 runs');
    // An encoder has no decoding: its forward pass only.
    expect(r.stdout).toContain('forward (prefill plan, B 1 × T 16)');
    expect(r.stdout).not.toContain('decode (');
    for (const line of ['by kind:', 'kernels and copies (Σ of one run)', 'step as the runtime encodes it', 'outside kernels (step − Σ)'])
      expect(r.stdout).toContain(line);
    expect(r.stdout).toMatch(/\n {2}0 +embed +embed +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+%/);
    expect(r.stdout).toContain(`chart: ${svg}`);
    const text = readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(text.trimEnd().endsWith('</svg>')).toBe(true);
    expect(text).toContain('>matmul</text>');
    expect(text.match(/<text/g)!.length).toBe(text.match(/<\/text>/g)!.length);
    expect(text.match(/<rect /g)!.length).toBeGreaterThan(3);
  }, 300_000);

  it('an encoder–decoder: its encode plan too', () => {
    const j = profileJson('specs/tiny-t5.model');
    expect(j.plans.map((p) => p.name)).toEqual(['encode', 'decode', 'prefill']);
  }, 300_000);

  it('--train: one training step, optimizer included, at the batch asked', () => {
    const j = profileJson('test/fixtures/torch/torch_gpt.model', '--train', '--batch', '2');
    expect(j.plans.map((p) => p.name)).toEqual(['train']);
    const kinds = j.plans[0]!.kinds.map((k) => k.kind);
    expect(kinds).toEqual(expect.arrayContaining(['matmul', 'optimizer', 'loss', 'clear']));
    expect(j.plans[0]!.steps.some((s) => s.name.includes('x') && s.kind === 'matmul')).toBe(true);
  }, 300_000);

  it('refuses wrong inputs with a message and a non-zero exit, never a stack trace', () => {
    mkdirSync(TMP, { recursive: true });
    const wide = join(TMP, 'wide.model');
    writeFileSync(wide, 'model wide {\n  vocab = 64, context = 16, d_model = 512, layers = 1\n  block { attention { heads: 1 } }\n}\n');
    const bad = join(TMP, 'bad.model');
    writeFileSync(bad, 'model bad {\n  vocab = 64, context = 16, d_model = 30, layers = 1\n  block { attention { heads: 4 } }\n}\n');
    const cases: [string[], number, string][] = [
      [['nope.model'], 1, "error MS5001: cannot read 'nope.model'"],
      [[bad], 1, 'error MS2101: heads (4) must divide d_model (30)'],
      [[wide], 1, 'error MS4001: the GPU path does not support attention.head_dim = 512'],
      [['specs/char-gpt.model', '--model', 'nope'], 1, "error MS2021: no model named 'nope'"],
      [['specs/char-gpt.model#char_gpt', '--model', 'x'], 2, "names model 'char_gpt' but --model names 'x'"],
      [['specs/char-gpt.model', '--train', '--batch', '0'], 2, '--batch must be an integer in [1, 2^16], found 0'],
      [['specs/char-gpt.model', '--train', '--batch', '65536'], 1, 'use a smaller --batch'],
      [['specs/char-gpt.model', '--batch', '4'], 2, '--batch sizes the training step'],
      [['specs/char-gpt.model', '--steps', '0'], 2, '--steps must be an integer in [1, 1000], found 0'],
      [['specs/char-gpt.model', '--steps', '5000'], 2, '--steps must be an integer in [1, 1000], found 5000'],
      [['specs/char-gpt.model', '--warmup', '101'], 2, '--warmup must be an integer in [0, 100], found 101'],
      [['specs/char-gpt.model', '--svg', join(TMP, 'missing', 'x.svg')], 2, 'cannot write the chart to'],
    ];
    for (const [args, code, message] of cases) {
      const r = mspec('profile', ...args);
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
  }, 300_000);
});
