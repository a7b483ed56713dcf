/** examples/scaling-law (its quick version): sizes trained for one budget, the chart and the Chinchilla reference. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { outDir, runExample } from './run-example.js';

describe('examples/scaling-law', () => {
  it('trains each size for the same FLOPs and draws loss against FLOPs with the 20-tokens-per-parameter lines', () => {
    const out = outDir('scaling-law');
    const r = runExample('scaling-law/run.mjs', { SIZES: 'w32,w48', BUDGET_STEPS: '2', EXAMPLE_OUT: out });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^budget [\d.]+e\+\d+ training FLOPs each/m);
    // The smaller model takes more steps for the same budget.
    const steps = (s: string) =>
      Number(
        r.stdout
          .split('\n')
          .find((l) => l.startsWith(`${s} `))!
          .trim()
          .split(/\s+/)[2],
      );
    expect(steps('w32')).toBeGreaterThan(steps('w48'));
    expect(r.stdout).toMatch(/the 20-tokens-per-parameter rule picks w(32|48)/);
    const svg = readFileSync(join(out, 'loss-vs-flops.svg'), 'utf8');
    expect(svg.match(/class="run"/g)).toHaveLength(2);
    expect(svg.match(/class="chinchilla"/g)).toHaveLength(2);
  });
});
