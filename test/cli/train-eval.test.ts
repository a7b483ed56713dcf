/**
 * Validation at step s sees the weights after exactly s updates (steps are pipelined, but an
 * evaluated step is drained first), and on a terminal `mspec train` shows a progress bar while
 * piped output keeps plain log lines. With a constant learning rate a 5-step run and the first
 * five steps of a 10-step run apply the same updates, so their step-5 validation losses must be
 * equal: the 10-step run's is measured mid-run, the 5-step run's after its last step.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mspec, ROOT } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-train-eval-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The tiny training spec with a constant learning rate (so --steps changes no update). */
const SPEC = join(tmp, 'constant.model');
writeFileSync(
  SPEC,
  readFileSync(join(ROOT, 'test/cli/fixtures/tiny-train.model'), 'utf8')
    .replace('schedule = cosine(warmup: 5, min_lr: 3e-4)', 'schedule = constant(warmup: 0)')
    .replace('data = "tiny-corpus.txt"', `data = ${JSON.stringify(join(ROOT, 'test/cli/fixtures/tiny-corpus.txt'))}`),
);

const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number; lr: number; val_loss?: number });

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe('mspec train: validation timing and progress display', () => {
  it('validation at step s is measured after exactly s updates; a terminal shows a progress bar', () => {
    expect(readFileSync(SPEC, 'utf8')).toContain('constant(warmup: 0)');
    const long = join(tmp, 'long');
    const short = join(tmp, 'short');
    const args = (dir: string, steps: number) => [
      'train',
      SPEC,
      '--out',
      dir,
      '--steps',
      String(steps),
      '--eval-every',
      '5',
      '--sample-tokens',
      '0',
    ];

    // The 10-step run under a pseudo-terminal (util-linux `script`), as a user at a terminal.
    let screen: string;
    if (hasScript) {
      const cmd = [process.execPath, join(ROOT, 'dist/compiler/cli/main.js'), ...args(long, 10)].join(' ');
      const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' },
      });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      screen = r.stdout;
      // The bar is redrawn in place: several states of it, each after a move to column 1.
      const states = screen.match(/\x1b\[1Gstep \d+\/10 \[[=-]+\] loss \d\.\d{4} \| \d+ tok\/s \| lr 3\.00e-3/g) ?? [];
      expect(states.length, JSON.stringify(screen)).toBeGreaterThanOrEqual(2);
      expect(screen).toContain('step 10/10 [');
      expect(screen).toMatch(/\x1b\[2Kstep 5: validation loss \d\.\d{4}, perplexity/);
      expect(screen).not.toMatch(/^step \d+\/10 loss/m); // no plain log lines on a terminal
    } else {
      console.warn('util-linux `script` is not installed: the progress bar is not checked under a pseudo-terminal');
      const r = mspec(...args(long, 10));
      expect(r.code, r.stderr).toBe(0);
    }

    // The 5-step run with its output piped: plain lines, no terminal control codes.
    const r = mspec(...args(short, 5));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^step 5\/5 loss \d\.\d{4} lr 3\.00e-3 \d+ tok\/s$/m);
    expect(r.stdout).toContain('step 5: validation loss');
    expect(r.stdout).not.toContain('\x1b[');

    const a = metrics(long);
    const b = metrics(short);
    expect(a.slice(0, 5).map((m) => m.loss)).toEqual(b.map((m) => m.loss)); // the same updates
    expect(a.filter((m) => m.val_loss !== undefined).map((m) => m.step)).toEqual([5, 10]);
    expect(a[4]!.val_loss).toBeDefined();
    expect(a[4]!.val_loss).toBe(b[4]!.val_loss); // bit for bit: step 6 had not been applied
    expect(a[9]!.val_loss).not.toBe(a[4]!.val_loss);
  }, 120_000);
});
