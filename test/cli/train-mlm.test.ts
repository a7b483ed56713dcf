/**
 * `mspec train` with objective = mlm, as a user runs it, and `mspec sample --fill`: a tiny
 * BERT-shaped encoder trains end to end (masked-token loss, perplexity and GPU accuracy at
 * evaluations, the [MASK] token recorded with the checkpoint), a run killed with SIGKILL and
 * resumed continues the exact loss curve (masks are a pure function of seed and step), the
 * checkpoint fills masks (text and JSON), and each misuse fails with a clear message.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { mspec, ROOT } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-mlm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SPEC = 'test/cli/fixtures/tiny-mlm.model';

interface Rec {
  step: number;
  loss: number;
  val_loss?: number;
  val_ppl?: number;
  val_acc?: number;
  tokens_per_s: number;
}
const metrics = (dir: string): Rec[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Rec);
const curve = (dir: string) => metrics(dir).map(({ tokens_per_s: _t, ...rest }) => rest);

function lastStep(dir: string): number {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, 'utf8').trim().split('\n').filter(Boolean);
  return lines.length ? (JSON.parse(lines[lines.length - 1]!) as { step: number }).step : 0;
}

/** SIGKILLs the CLI's process group once metrics.jsonl reaches step `at` (no handler runs). */
function killAt(args: string[], dir: string, at: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/compiler/cli/main.js'), ...args], {
      cwd: ROOT,
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, NO_COLOR: '1' },
    });
    let killed = false;
    const poll = setInterval(() => {
      if (!killed && lastStep(dir) >= at) {
        killed = true;
        process.kill(-child.pid!, 'SIGKILL');
      }
    }, 15);
    child.on('close', () => {
      clearInterval(poll);
      resolve(killed);
    });
  });
}

const full = join(tmp, 'full');
const ckpt = join(full, 'last.safetensors');
let trained: ReturnType<typeof mspec> | undefined;
function train() {
  trained ??= mspec('train', SPEC, '--out', full, '--checkpoint-every', '5');
  return trained;
}

describe('mspec train, objective = mlm', () => {
  it('trains a tiny encoder: masked-token loss, perplexity and accuracy at every evaluation', () => {
    const r = train();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/step 10: masked-token validation loss \d+\.\d{4}, perplexity \d+\.\d{2}, accuracy \d+\.\d%/);
    expect(r.stdout).toContain(`mspec sample ${ckpt} --fill`);
    const m = metrics(full);
    expect(m).toHaveLength(30);
    const evals = m.filter((x) => x.val_loss !== undefined);
    expect(evals.map((x) => x.step)).toEqual([10, 20, 30]);
    for (const e of evals) {
      expect(e.val_ppl! / Math.exp(e.val_loss!)).toBeCloseTo(1, 10);
      // 4 rows × 16 positions × 2 batches, 4 masked per row: accuracy is a multiple of 1/32.
      expect(e.val_acc).toBeGreaterThanOrEqual(0);
      expect(e.val_acc).toBeLessThanOrEqual(1);
      expect(Number.isInteger(e.val_acc! * 32)).toBe(true);
    }
    // It learns: below the uniform guess over the 23 ids (22 characters + [MASK]).
    expect(m[m.length - 1]!.loss).toBeLessThan(Math.log(23));
    // The tokenizer with its [MASK] goes into the run's config and the checkpoint.
    const config = JSON.parse(readFileSync(join(full, 'config.json'), 'utf8')) as { tokenizer: { specials?: string[] } };
    expect(config.tokenizer.specials).toEqual(['[MASK]']);
    const stored = JSON.parse(readSafetensors(ckpt).metadata['mspec.tokenizer']!) as { kind: string; chars: string[]; specials: string[] };
    expect(stored.specials).toEqual(['[MASK]']);
    expect(stored.chars).toHaveLength(22);
  });

  it('a run killed with SIGKILL and resumed continues the exact loss curve (masks included)', async () => {
    expect(train().code).toBe(0);
    const dir = join(tmp, 'killed');
    expect(await killAt(['train', SPEC, '--out', dir, '--checkpoint-every', '5', '--sample-tokens', '0'], dir, 12)).toBe(true);
    const resumed = mspec('train', '--resume', dir, '--sample-tokens', '0');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming tiny_mlm from .* at step (10|15)\/30/);
    expect(curve(dir)).toEqual(curve(full));
  });

  it('refuses a vocabulary without room for [MASK], at the vocab knob', () => {
    const dir = join(tmp, 'small');
    rmSync(dir, { recursive: true, force: true });
    const spec = readFileSync(join(ROOT, SPEC), 'utf8').replace('vocab = tokenizer.vocab', 'vocab = 22');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'small.model'), spec);
    copyFileSync(join(ROOT, 'test/cli/fixtures/tiny-corpus.txt'), join(dir, 'tiny-corpus.txt'));
    const r = mspec('train', join(dir, 'small.model'), '--out', join(dir, 'run'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('has 23 tokens (22 ordinary + [MASK], which objective = mlm adds) but model tiny_mlm has vocab 22');
    expect(r.stderr).toMatch(/small\.model:5:\d+/);
    expect(r.stderr).toContain('set vocab = tokenizer.vocab (or at least 23)');
  });
});

describe('mspec sample --fill', () => {
  it('prints the top 5 candidates of each [MASK] with probabilities, and the best fill', () => {
    expect(train().code).toBe(0);
    const r = mspec('sample', ckpt, '--fill', 'the [MASK]ea. sh[MASK]p');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('[MASK] 1 of 2 (token 4):');
    expect(lines[6]).toBe('[MASK] 2 of 2 (token 11):');
    for (const block of [lines.slice(1, 6), lines.slice(7, 12)]) {
      const p = block.map((l) => Number(/^ {2}(\d\.\d{4}) {2}".*"$/.exec(l)![1]));
      expect(p.every((x) => x > 0 && x <= 1)).toBe(true);
      expect([...p].sort((a, b) => b - a)).toEqual(p);
      expect(p.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1.0001);
    }
    expect(lines[12]).toMatch(/^best: the .ea\. sh.p$/);
  });

  it('--json --top-k 3: candidates with ids and probabilities for each mask', () => {
    const r = mspec('sample', ckpt, '--fill', '[MASK]he sea', '--json', '--top-k', '3');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      model: string;
      filled: string;
      masks: { position: number; candidates: { token: string; id: number; p: number }[] }[];
    };
    expect(j.model).toBe('tiny_mlm');
    expect(j.masks).toHaveLength(1);
    expect(j.masks[0]!.position).toBe(0);
    expect(j.masks[0]!.candidates).toHaveLength(3);
    for (const c of j.masks[0]!.candidates) {
      expect(c.id).toBeLessThan(22); // an ordinary character, never [MASK]
      expect(c.token).toHaveLength(1);
    }
    expect(j.filled).toBe(`${j.masks[0]!.candidates[0]!.token}he sea`);
  });

  it('fails clearly without a [MASK], on a text longer than the context, and on a decoder', () => {
    const none = mspec('sample', ckpt, '--fill', 'the sea');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('the text has no [MASK]');
    const long = mspec('sample', ckpt, '--fill', 'the sea and the [MASK]hip and the whale');
    expect(long.code).toBe(1);
    expect(long.stderr).toContain("the text is 34 tokens long but tiny_mlm's context is 16");
    const decoder = mspec('sample', 'test/cli/fixtures/tiny-train.model', '--fill', 'the [MASK]ea');
    expect(decoder.code).toBe(1);
    expect(decoder.stderr).toContain(
      '--fill needs a masked language model (arch = encoder, trained with objective = mlm), but tiny_train is a decoder',
    );
    // The other way round: an encoder does not continue a prompt (it used to generate noise left to right).
    const prompt = mspec('sample', ckpt, '--prompt', 'the sea', '--max-tokens', '4');
    expect(prompt.code).toBe(2);
    expect(prompt.stderr).toContain(
      'tiny_mlm is an encoder (bidirectional attention): it does not continue text left to right; fill masked',
    );
  });

  it('mspec eval refuses an encoder checkpoint (next-token perplexity means nothing there) and says where its numbers are', () => {
    const r = mspec('eval', ckpt);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('holds an encoder (model tiny_mlm); mspec eval measures next-token perplexity of decoder-only models');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
