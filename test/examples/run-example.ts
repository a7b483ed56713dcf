/** Runs an example script (examples/NAME/run.mjs) as its README says, with a smaller setting. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Output goes to test/.out/ (ignored, and inside the repository so built modules find `webgpu`). */
export function outDir(name: string): string {
  const dir = join(ROOT, 'test', '.out', `example-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function runExample(
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'examples', script), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
