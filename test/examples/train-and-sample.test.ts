/** examples/train-and-sample: a few training steps, then the same sample through the runtime API and the generated module. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { outDir, runExample } from './run-example.js';

describe('examples/train-and-sample', () => {
  it('trains, builds, and samples the same text through ModelRuntime and model.js', () => {
    const out = outDir('train-and-sample');
    const r = runExample('train-and-sample/run.mjs', { STEPS: '3', TOKENS: '12', EXAMPLE_OUT: out });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^trained 3 steps: loss [\d.]+ → [\d.]+, validation [\d.]+$/m);
    expect(r.stdout).toMatch(/^runtime API: {6}"Call me /m);
    expect(r.stdout).toMatch(/^generated module: "Call me /m);
    expect(r.stdout).toContain('same text from both: yes');
    expect(existsSync(join(out, 'build', 'tiny_gpt', 'model.js'))).toBe(true);
  });
});
