/**
 * Dawn prints two harmless warnings (maxDynamic*BuffersPerPipelineLayout) from native code
 * straight to file descriptor 2, where JavaScript cannot intercept them. Commands that open a
 * WebGPU device therefore run in a child process whose stderr passes through a line filter;
 * stdin, stdout and signals (Ctrl-C reaches the whole process group) are shared as they are.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DAWN_STARTUP_NOISE } from '../../runtime/gpu/describe.js';

export const CHILD_ENV = 'MSPEC_GPU_CHILD';

export function inGpuChild(): boolean {
  return process.env[CHILD_ENV] === '1';
}

export function runInGpuChild(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: ['inherit', 'inherit', 'pipe'],
      env: { ...process.env, [CHILD_ENV]: '1', ...(process.stderr.isTTY ? { MSPEC_STDERR_TTY: '1' } : {}) },
    });
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      DAWN_STARTUP_NOISE.lastIndex = 0;
      if (!DAWN_STARTUP_NOISE.test(`${line}\n`)) process.stderr.write(`${line}\n`);
    });
    // The child handles Ctrl-C itself (it is in our process group); the parent just waits.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    child.on('close', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}
