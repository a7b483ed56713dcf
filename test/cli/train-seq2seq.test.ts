/**
 * `mspec train` with objective = seq2seq on a TSV pairs file, end to end on lavapipe: progress,
 * validation loss and exact-match accuracy at each evaluation, a resumed run that continues the
 * uninterrupted loss curve exactly, `mspec sample --input` on the checkpoint, and the errors a
 * user can meet (a malformed pairs line, --prompt on an encoder–decoder, --input on a decoder,
 * a source longer than the encoder's context).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mspec, ROOT } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-seq2seq-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const WORDS = 'whale ship sea call me ahab sail wind deck mast rope oar boat harpoon storm tide wave fish oil crew'.split(' ');
writeFileSync(join(tmp, 'pairs.tsv'), WORDS.map((w) => `${w}\t${[...w].reverse().join('')}`).join('\n') + '\n');
writeFileSync(join(tmp, 'bad.tsv'), 'ship\tpihs\nwhale elahw\n');
const SPEC = join(tmp, 's2s.model');
writeFileSync(
  SPEC,
  `// A very small T5-shaped encoder–decoder (seconds per run on lavapipe).
model s2s {
  arch = encoder_decoder
  vocab = tokenizer.vocab
  context = 8
  d_model = 16
  layers = 1
  bias = false
  embedding { positions: relative(buckets: 8, max_distance: 16), tied: true }
  block {
    norm: rmsnorm(eps: 1e-6)
    placement: pre
    attention { heads: 2, scaled: false }
    mlp { activation: relu, hidden: 32 }
  }
  encoder { layers: 1 }
  decoder { layers: 1 }
  final_norm = rmsnorm(eps: 1e-6)
}

train s2s {
  data = "pairs.tsv"
  tokenizer = char
  objective = seq2seq
  batch = 4
  steps = 6
  seed = 3
  optimizer = adamw(lr: 3e-3)
  schedule = constant(warmup: 0)
  eval { every: 3, batches: 1 }
  val_fraction = 0.2
}
`,
);

interface Metrics {
  step: number;
  loss: number;
  val_loss?: number;
  val_exact?: number;
}
const metrics = (dir: string): Metrics[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Metrics);

describe('mspec train / sample: an encoder–decoder on (source, target) pairs', () => {
  const full = join(tmp, 'full');

  it('trains with validation loss and exact match; the checkpoint records [PAD] and [EOS]', () => {
    const r = mspec('train', SPEC, '--out', full);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/step 3: validation loss \d+\.\d+, perplexity \d+\.\d+, exact match \d+\.\d% of 4 \(/);
    const m = metrics(full);
    expect(m.map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const x of m) expect(Number.isFinite(x.loss)).toBe(true);
    const evals = m.filter((x) => x.val_exact !== undefined);
    expect(evals.map((x) => x.step)).toEqual([3, 6]);
    for (const x of evals) expect(x.val_exact! >= 0 && x.val_exact! <= 1 && Number.isFinite(x.val_loss)).toBe(true);
    const header = readFileSync(join(full, 'last.safetensors'));
    const meta = JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString('utf8')).__metadata__ as Record<
      string,
      string
    >;
    expect(JSON.parse(meta['mspec.tokenizer']!).specials).toEqual(['[PAD]', '[EOS]']);
  }, 600_000);

  it('a run resumed at step 3 continues the uninterrupted loss curve exactly', () => {
    const half = join(tmp, 'half');
    expect(mspec('train', SPEC, '--out', half, '--steps', '3').code).toBe(0);
    const r = mspec('train', '--resume', half, '--steps', '6');
    expect(r.code, r.stderr).toBe(0);
    expect(metrics(half).map((x) => x.loss)).toEqual(metrics(full).map((x) => x.loss));
  }, 600_000);

  it('sample --input decodes a source; the wrong option or a long source is a clear error', () => {
    const ckpt = join(full, 'last.safetensors');
    const ok = mspec('sample', ckpt, '--input', 'whale', '--temperature', '0', '--max-tokens', '7');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim().length).toBeLessThanOrEqual(7);
    const prompt = mspec('sample', ckpt, '--prompt', 'whale');
    expect(prompt.code).toBe(2);
    expect(prompt.stderr).toContain('s2s is an encoder–decoder: give it a source with --input "…" (--prompt continues text');
    const long = mspec('sample', ckpt, '--input', 'harpoonss', '--temperature', '0');
    expect(long.code).toBe(1);
    expect(long.stderr).toContain("the source has 9 tokens but the encoder's context is 8; shorten it");
    const decoder = mspec('sample', join(ROOT, 'test/cli/fixtures/tiny-train.model'), '--input', 'x');
    expect(decoder.code).toBe(2);
    expect(decoder.stderr).toContain('--input gives an encoder–decoder its source, but tiny_train is decoder-only');
  }, 600_000);

  it('mspec build: the module answers a source (encode, forward, generate); its tokenizer has [PAD] and [EOS]', () => {
    const out = join(tmp, 'build');
    const r = mspec('build', SPEC, '--out', out, '--tuning', 'cpu');
    expect(r.code, r.stderr).toBe(0);
    const mod = readFileSync(join(out, 's2s', 'model.ts'), 'utf8');
    expect(mod).toContain('encode(source: readonly number[]): Promise<Float32Array>');
    expect(mod).toContain('forward(source: readonly number[], target: readonly number[]): Promise<Float32Array>');
    expect(mod).toContain('generate(source: readonly number[], opts: GenerateOptions): AsyncGenerator<number>');
    expect(mod).toContain('tokenize(text: string): number[]');
    const plan = JSON.parse(readFileSync(join(out, 's2s', 'plan.json'), 'utf8')) as {
      tokenizer: { specials: string[] };
      plans: Record<string, { mode: string }>;
    };
    expect(plan.tokenizer.specials).toEqual(['[PAD]', '[EOS]']);
    expect(Object.keys(plan.plans).sort()).toEqual(['decode', 'encode', 'prefill']);
  }, 600_000);

  it('a malformed pairs line stops training with its file:line', () => {
    const r = mspec('train', SPEC, '--out', join(tmp, 'bad'), '--data', join(tmp, 'bad.tsv'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${join(tmp, 'bad.tsv')}:2: a TSV pair is \`source<TAB>target\` (exactly one tab), but this line has no tab`,
    );
  }, 600_000);
});
