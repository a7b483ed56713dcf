/**
 * `mspec train` as a user runs it: an uninterrupted run, the same run stopped with Ctrl-C
 * (SIGINT to the process group, as a terminal sends it) and resumed — whose loss curve must
 * be identical — and a run that diverges to NaN and must stop, naming the step, with the last
 * good checkpoint intact.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { mspec, ROOT } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SPEC = 'test/cli/fixtures/tiny-train.model';

const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number; val_loss?: number; grad_norm: number });

/** Runs mspec in its own process group and sends SIGINT to the group once `when` shows on stdout. */
function interruptWhen(args: string[], when: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/compiler/cli/main.js'), ...args], { cwd: ROOT, detached: true, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!sent && when.test(stdout)) {
        sent = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('mspec train', () => {
  it('Ctrl-C saves a checkpoint, and --resume continues the exact loss curve', async () => {
    const a = join(tmp, 'a');
    const full = mspec('train', SPEC, '--out', a, '--sample-tokens', '20', '--prompt', 'the ');
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toContain('validation loss');
    expect(full.stdout).toMatch(/sample \(temperature 0\.8, seed 7\):\nthe /);
    const ma = metrics(a);
    expect(ma).toHaveLength(40);
    expect(ma[39]!.loss).toBeLessThan(ma[0]!.loss - 0.5); // it learns
    // The checkpoint alone is enough to sample: it carries the spec and the char vocabulary.
    const s = mspec('sample', join(a, 'last.safetensors'), '--prompt', 'the ', '--max-tokens', '8', '--seed', '3');
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout.startsWith('the ')).toBe(true);
    expect(s.stdout.trimEnd().length).toBeGreaterThan(4);

    const b = join(tmp, 'b');
    const stopped = await interruptWhen(['train', SPEC, '--out', b, '--sample-tokens', '0'], /step 12\/40/);
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('interrupted: finishing the current step and saving a checkpoint');
    expect(stopped.stderr).toContain(`continue with: mspec train --resume ${b}`);
    const saved = JSON.parse(readFileSync(join(b, 'state.json'), 'utf8')).step as number;
    expect(saved).toBeGreaterThanOrEqual(12);
    expect(saved).toBeLessThan(40);
    expect(readSafetensors(join(b, 'last.safetensors')).metadata['mspec.step']).toBe(String(saved));

    const resumed = mspec('train', '--resume', b, '--sample-tokens', '0');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming tiny_train from ${b} at step ${saved}/40`);
    const mb = metrics(b);
    expect(mb.map((r) => r.step)).toEqual(ma.map((r) => r.step));
    expect(mb.map((r) => r.loss)).toEqual(ma.map((r) => r.loss));
    expect(mb.map((r) => r.val_loss)).toEqual(ma.map((r) => r.val_loss));
    expect(readFileSync(join(b, 'loss.svg'), 'utf8')).toMatch(/^<svg/);

    // The trainer `mspec build` generates runs the same steps with plain node.
    const out = join(ROOT, 'test', '.out-train');
    try {
      const built = mspec('build', SPEC, '-o', out);
      expect(built.code, built.stderr).toBe(0);
      expect(built.stdout).toContain('train.js');
      const g = join(tmp, 'generated');
      const run = spawnSync(process.execPath, [join(out, 'tiny_train', 'train.js'), '--out', g, '--steps', '3', '--sample-tokens', '0'], { cwd: ROOT, encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(metrics(g).map((r) => r.loss)).toEqual(ma.slice(0, 3).map((r) => r.loss));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);

  it('a NaN loss stops the run at that step and keeps the last good checkpoint', () => {
    const dir = join(tmp, 'nan');
    const r = mspec('train', 'test/cli/fixtures/tiny-nan.model', '--out', dir, '--sample-tokens', '0');
    expect(r.code).toBe(1);
    const m = /became NaN\/Inf at step (\d+); training stopped and the last good checkpoint is .*last\.safetensors \(step (\d+)\)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const [bad, good] = [Number(m![1]), Number(m![2])];
    expect(good).toBe(bad - 1);
    const ckpt = readSafetensors(join(dir, 'last.safetensors'));
    expect(ckpt.metadata['mspec.step']).toBe(String(good));
    for (const [name, t] of ckpt.tensors) {
      const f = new Float32Array(t.data.slice().buffer);
      expect(f.every(Number.isFinite), name).toBe(true);
    }
  }, 120_000);

  it('bad input gets a clear error, not a stack trace', () => {
    const noRun = mspec('train', '--resume', join(tmp, 'nowhere'));
    expect(noRun.code).toBe(1);
    expect(noRun.stderr).toContain("is not a run folder (no config.json)");
    const noData = mspec('train', SPEC, '--data', 'no/such/corpus.txt', '--out', join(tmp, 'x'));
    expect(noData.code).toBe(1);
    expect(noData.stderr).toMatch(/^error: .*no\/such\/corpus\.txt/m);
    expect(noData.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
