/**
 * Same seed, same text across a resumed run (issue 13): a run trained 6 steps straight and the
 * same run stopped with Ctrl-C after step 2 and resumed hold the same weights, so sampling either with one seed
 * prints the same text — on the device path, in one-token chunks, and on the host path alike
 * (the draw is keyed by seed and position, not by a generator's running state).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interruptWhen, mspec } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-sample-resume-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SPEC = 'test/cli/fixtures/tiny-train.model';
const quiet = ['--sample-tokens', '0', '--eval-every', '2'];

describe('sampling after --resume', () => {
  it('a resumed run samples the same text as the uninterrupted one, on the device and on the host', async () => {
    const straight = join(tmp, 'straight');
    const resumed = join(tmp, 'resumed');
    const a = mspec('train', SPEC, '--out', straight, '--steps', '6', ...quiet);
    expect(a.code, a.stderr).toBe(0);
    // Ctrl-C after step 2 of the same 6-step run (its schedule stays the 6-step one), then resume.
    const stopped = await interruptWhen(['train', SPEC, '--out', resumed, '--steps', '6', ...quiet], /step 2\/6/);
    expect(stopped.stdout).not.toContain('step 6/6');
    const r = mspec('train', '--resume', resumed, '--sample-tokens', '0');
    expect(r.code, r.stderr).toBe(0);
    const text = (dir: string, seed: number, ...extra: string[]) => {
      const r = mspec(
        'sample',
        join(dir, 'last.safetensors'),
        '--prompt',
        'the ',
        '--max-tokens',
        '10',
        '--seed',
        String(seed),
        '--temperature',
        '0.9',
        ...extra,
      );
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    const want = text(straight, 11);
    expect(want.length).toBeGreaterThan(6);
    expect(text(resumed, 11)).toBe(want);
    expect(text(resumed, 11, '--chunk', '1')).toBe(want);
    expect(text(resumed, 11, '--host-sampling')).toBe(want);
    // Another seed draws other text (the comparison above can fail).
    expect(text(resumed, 12)).not.toBe(want);
  }, 240_000);
});
