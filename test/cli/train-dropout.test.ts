/**
 * `mspec train` with dropout as a user runs it: a run with every dropout on and two micro-
 * batches per step, stopped with Ctrl-C and resumed, gives the uninterrupted run's loss
 * curve and final weights bit for bit (the masks are a pure function of the seed and the
 * micro-batch counter, so the resumed run redraws exactly the masks the uninterrupted one drew);
 * the trainer `mspec build` generates runs the same first steps.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { interruptWhen, mspec, ROOT } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-train-dropout-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SPEC = 'test/cli/fixtures/tiny-dropout.model';

const losses = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number; val_loss?: number })
    .map(({ step, loss, val_loss }) => ({ step, loss, val_loss }));

describe('mspec train with dropout', () => {
  it('Ctrl-C + --resume gives the uninterrupted loss curve and weights bit for bit', async () => {
    const a = join(tmp, 'a');
    const full = mspec('train', SPEC, '--out', a, '--sample-tokens', '0');
    expect(full.code, full.stderr).toBe(0);
    const la = losses(a);
    expect(la).toHaveLength(16);
    expect(la.every((r) => Number.isFinite(r.loss))).toBe(true);
    expect(la[15]!.loss).toBeLessThan(la[0]!.loss - 0.3); // it learns with dropout on

    const b = join(tmp, 'b');
    const stopped = await interruptWhen(['train', SPEC, '--out', b, '--sample-tokens', '0'], /step 5\/16/);
    expect(stopped.code, stopped.stderr).toBe(130);
    const saved = JSON.parse(readFileSync(join(b, 'state.json'), 'utf8')).step as number;
    expect(saved).toBeGreaterThanOrEqual(5);
    expect(saved).toBeLessThan(16);
    const resumed = mspec('train', '--resume', b, '--sample-tokens', '0');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`at step ${saved}/16`);
    expect(losses(b)).toEqual(la);
    const [wa, wb] = [readSafetensors(join(a, 'last.safetensors')), readSafetensors(join(b, 'last.safetensors'))];
    expect([...wb.tensors.keys()]).toEqual([...wa.tensors.keys()]);
    for (const [name, t] of wa.tensors) expect(Buffer.from(wb.tensors.get(name)!.data), name).toEqual(Buffer.from(t.data));

    // The trainer `mspec build` generates draws the same masks (it gets the seed with the recipe).
    // Inside the repository (git-ignored as any out/), so the built module resolves the runtime's
    // packages; not test/.out, which build-sample.test.ts removes whole.
    const out = join(ROOT, 'test', 'out', 'train-dropout');
    try {
      const built = mspec('build', SPEC, '-o', out);
      expect(built.code, built.stderr).toBe(0);
      const g = join(tmp, 'generated');
      const run = spawnSync(process.execPath, [join(out, 'tiny_dropout', 'train.js'), '--out', g, '--steps', '3', '--sample-tokens', '0'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).toBe(0);
      expect(losses(g).map((r) => r.loss)).toEqual(la.slice(0, 3).map((r) => r.loss));
    } finally {
      rmSync(out, { recursive: true, force: true });
      if (readdirSync(dirname(out)).length === 0) rmSync(dirname(out), { recursive: true });
    }
  }, 300_000);
});
