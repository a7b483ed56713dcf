/**
 * `mspec train` as a user runs it: an uninterrupted run, the same run stopped with Ctrl-C
 * (SIGINT to the process group, as a terminal sends it) and resumed, the same run killed with
 * SIGKILL at random steps and resumed each time — whose loss curves and weights must be
 * identical — and a run that diverges to NaN and must stop, naming the step, with the last
 * good checkpoint intact.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { interruptWhen, mspec, ROOT } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SPEC = 'test/cli/fixtures/tiny-train.model';

const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number; val_loss?: number; grad_norm: number; tokens_per_s: number });

/** The step of the last record in a run's metrics.jsonl (0 when there is none yet). */
function lastStep(dir: string): number {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, 'utf8').trim().split('\n').filter(Boolean);
  return lines.length ? (JSON.parse(lines[lines.length - 1]!) as { step: number }).step : 0;
}

/**
 * Runs mspec in its own process group and SIGKILLs the whole group (the CLI and its GPU child)
 * as soon as metrics.jsonl shows step `at`: no handler runs, files are left as they are.
 */
function killAt(args: string[], dir: string, at: number): Promise<{ killed: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/compiler/cli/main.js'), ...args], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const poll = setInterval(() => {
      if (!killed && lastStep(dir) >= at) {
        killed = true;
        process.kill(-child.pid!, 'SIGKILL');
      }
    }, 15);
    child.on('close', () => {
      clearInterval(poll);
      resolve({ killed, stderr });
    });
  });
}

/** A small seeded generator (mulberry32), so a failing kill schedule can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Everything in metrics.jsonl but the wall-clock throughput. */
const curve = (dir: string) => metrics(dir).map(({ tokens_per_s: _t, ...rest }: Record<string, number>) => rest);

/** The uninterrupted 40-step run both resume tests compare with (made once). */
let reference: { dir: string; stdout: string; stderr: string; code: number } | undefined;
function uninterrupted() {
  if (!reference) {
    const dir = join(tmp, 'a');
    const r = mspec('train', SPEC, '--out', dir, '--sample-tokens', '20', '--prompt', 'the ');
    reference = { dir, ...r };
  }
  return reference;
}

describe('mspec train', () => {
  it('Ctrl-C saves a checkpoint, and --resume continues the exact loss curve', async () => {
    const full = uninterrupted();
    const a = full.dir;
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
      const run = spawnSync(process.execPath, [join(out, 'tiny_train', 'train.js'), '--out', g, '--steps', '3', '--sample-tokens', '0'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).toBe(0);
      expect(metrics(g).map((r) => r.loss)).toEqual(ma.slice(0, 3).map((r) => r.loss));
      // Its --resume reads the checkpoint itself, as mspec train does (state.json is only a copy).
      rmSync(join(g, 'state.json'));
      const more = spawnSync(
        process.execPath,
        [join(out, 'tiny_train', 'train.js'), '--out', g, '--resume', '--steps', '4', '--sample-tokens', '0'],
        {
          cwd: ROOT,
          encoding: 'utf8',
        },
      );
      expect(more.status, more.stderr).toBe(0);
      expect(more.stderr).toContain('at step 3/4');
      expect(metrics(g).map((r) => r.step)).toEqual([1, 2, 3, 4]);
      // A new run into the same folder is refused, as by mspec train; --overwrite starts over.
      const fresh = [join(out, 'tiny_train', 'train.js'), '--out', g, '--steps', '2', '--sample-tokens', '0'];
      const refused = spawnSync(process.execPath, fresh, { cwd: ROOT, encoding: 'utf8' });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain('already holds a run; continue it with --resume, or start over with --overwrite');
      const over = spawnSync(process.execPath, [...fresh, '--overwrite'], { cwd: ROOT, encoding: 'utf8' });
      expect(over.status, over.stderr).toBe(0);
      expect(metrics(g).map((r) => r.step)).toEqual([1, 2]);
      // Wrong inputs are one-line errors (2: usage, 1: data), never a stack trace; --data is the working folder's.
      const gen = (cwd: string, ...a: string[]) =>
        spawnSync(process.execPath, [join(out, 'tiny_train', 'train.js'), ...a], { cwd, encoding: 'utf8' });
      for (const [a, code, msg] of [
        [['--stepz', '3'], 2, /^error: Unknown option '--stepz'\nusage: node train\.js/],
        [['--steps', '0'], 2, /^error: --steps must be an integer in \[1, 2\^32\], found 0\n/],
        [['--sample-tokens', 'x'], 2, /^error: --sample-tokens must be an integer in \[0, 2\^20\], found 'x'\n/],
        [['--data', 'short.txt', '--out', 'short-run'], 1, /^error: the training split has \d+ tokens?, but a sequence length of/m],
      ] as const) {
        writeFileSync(join(tmp, 'short.txt'), 'too short\n');
        const r = gen(tmp, ...a);
        expect(r.status, r.stderr).toBe(code);
        expect(r.stderr).toMatch(msg);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      expect(existsSync(join(tmp, 'short-run', 'config.json'))).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);

  it('SIGKILL at random steps, resumed each time, gives the uninterrupted run bit for bit', async () => {
    const seed = Number(process.env.MSPEC_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`SIGKILL schedule seed ${seed} (replay with MSPEC_KILL_SEED=${seed})`);
    const next = rng(seed);
    const ref = uninterrupted();
    expect(ref.code, ref.stderr).toBe(0);
    const dir = join(tmp, 'killed');
    // Checkpoints every 5 steps; the kills land anywhere, including inside a save.
    let at = 6 + Math.floor(next() * 8);
    let args = ['train', SPEC, '--out', dir, '--sample-tokens', '0', '--checkpoint-every', '5'];
    const log: string[] = [];
    for (let kill = 0; kill < 3; kill++) {
      const r = await killAt(args, dir, at);
      expect(r.killed, `run ${kill} ended before step ${at} (seed ${seed}): ${r.stderr}`).toBe(true);
      const resumedAt = /at step (\d+)\/40/.exec(r.stderr)?.[1];
      if (kill > 0) expect(Number(resumedAt) % 5, r.stderr).toBe(0); // a checkpoint step
      log.push(`${kill ? `resumed at ${resumedAt}, ` : ''}killed after step ${lastStep(dir)}`);
      args = ['train', '--resume', dir, '--sample-tokens', '0'];
      // The next kill waits for a step the killed run never reached (its metrics.jsonl may have
      // run a step or two past `at` before the kill landed), so the resumed run trains first.
      at = Math.min(38, Math.max(at + 3 + Math.floor(next() * 8), lastStep(dir) + 2));
    }
    const last = mspec(...args);
    expect(last.code, last.stderr).toBe(0);
    const from = /resuming tiny_train from .* at step (\d+)\/40/.exec(last.stderr);
    expect(from, last.stderr).not.toBeNull();
    expect(Number(from![1]) % 5).toBe(0);
    console.log(`seed ${seed}: ${log.join('; ')}; resumed at ${from![1]} and finished`);
    expect(curve(dir)).toEqual(curve(ref.dir));
    const want = readSafetensors(join(ref.dir, 'last.safetensors'));
    const got = readSafetensors(join(dir, 'last.safetensors'));
    expect([...got.tensors.keys()].sort()).toEqual([...want.tensors.keys()].sort());
    for (const [name, t] of want.tensors) expect(Buffer.from(got.tensors.get(name)!.data).equals(Buffer.from(t.data)), name).toBe(true);
  }, 180_000);

  it('a NaN loss stops the run at that step and keeps the last good checkpoint', () => {
    const dir = join(tmp, 'nan');
    const r = mspec('train', 'test/cli/fixtures/tiny-nan.model', '--out', dir, '--sample-tokens', '0');
    expect(r.code).toBe(1);
    const m = /became NaN\/Inf at step (\d+); training stopped and the last good checkpoint is .*last\.safetensors \(step (\d+)\)/.exec(
      r.stderr,
    );
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
    expect(noRun.stderr).toContain('is not a run folder (no config.json)');
    const damaged = join(tmp, 'damaged');
    mkdirSync(damaged);
    writeFileSync(join(damaged, 'config.json'), '{"sources": ');
    const badConfig = mspec('train', '--resume', damaged);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(/^error: .*damaged\/config\.json is not valid JSON .*start the run again without --resume/m);
    const noInit = mspec('train', SPEC, '--init', join(tmp, 'none.safetensors'), '--out', join(tmp, 'y'));
    expect(noInit.code).toBe(1);
    expect(noInit.stderr).toContain(`error: cannot read checkpoint '${join(tmp, 'none.safetensors')}': no such file`);
    const noData = mspec('train', SPEC, '--data', 'no/such/corpus.txt', '--out', join(tmp, 'x'));
    expect(noData.code).toBe(1);
    expect(noData.stderr).toMatch(/^error: .*no\/such\/corpus\.txt/m);
    expect(noData.stderr).not.toMatch(/\n\s+at /);
    // --data is resolved from the working folder (the spec's `data` from the spec's). Data too short for
    // one window is refused before the folder becomes a run, so the corrected retry needs no --overwrite.
    writeFileSync(join(tmp, 'tiny.txt'), 'abc\n');
    const cli = (...a: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'dist', 'compiler', 'cli', 'main.js'), ...a], { cwd: tmp, encoding: 'utf8' });
    const short = cli('train', join(ROOT, SPEC), '--data', 'tiny.txt', '--out', 'cwd-run', '--steps', '1', '--sample-tokens', '0');
    expect(short.status).toBe(1);
    expect(short.stderr).toMatch(new RegExp(`^error: the training split has \\d+ tokens?, but a sequence length`, 'm'));
    expect(existsSync(join(tmp, 'cwd-run', 'config.json'))).toBe(false);
    writeFileSync(join(tmp, 'tiny.txt'), 'the quick brown fox jumps over the lazy dog. '.repeat(40));
    const ok = cli('train', join(ROOT, SPEC), '--data', 'tiny.txt', '--out', 'cwd-run', '--steps', '1', '--sample-tokens', '0');
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(tmp, 'cwd-run', 'config.json'), 'utf8')).overrides.data).toBe(join(tmp, 'tiny.txt'));
  }, 60_000);

  it('a new run refuses a folder that holds a run (its checkpoint stays as it was) unless --overwrite starts over', () => {
    const dir = join(tmp, 'taken');
    const first = mspec('train', SPEC, '--steps', '2', '--eval-every', '2', '--sample-tokens', '0', '--out', dir);
    expect(first.code, first.stderr).toBe(0);
    const before = readFileSync(join(dir, 'last.safetensors'));
    const again = mspec('train', SPEC, '--steps', '1', '--sample-tokens', '0', '--out', dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      `error: '${dir}' already holds a run at step 2 (last.safetensors, optimizer.safetensors, config.json); continue it with mspec train --resume ${dir}`,
    );
    expect(readFileSync(join(dir, 'last.safetensors')).equals(before)).toBe(true);
    // --overwrite whose new run is refused (a prompt its characters cannot encode) keeps the old run whole.
    const refused = mspec('train', SPEC, '--steps', '1', '--sample-tokens', '4', '--prompt', 'Zürich', '--out', dir, '--overwrite');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: the character "[Zü]" is not in this model.s character vocabulary/m);
    expect(readFileSync(join(dir, 'last.safetensors')).equals(before)).toBe(true);
    const over = mspec('train', SPEC, '--steps', '1', '--eval-every', '1', '--sample-tokens', '0', '--out', dir, '--overwrite');
    expect(over.code, over.stderr).toBe(0);
    expect(readSafetensors(join(dir, 'last.safetensors')).metadata['mspec.step']).toBe('1');
    expect(metrics(dir).map((m) => m.step)).toEqual([1]);
    const both = mspec('train', '--resume', dir, '--overwrite');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--overwrite starts a new run; --resume continues one');
  }, 120_000);
});
