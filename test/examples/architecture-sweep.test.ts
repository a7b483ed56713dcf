/** examples/architecture-sweep: diff deltas, info costs and a short training run of each variant, as one table. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { outDir, runExample } from './run-example.js';

describe('examples/architecture-sweep', () => {
  it('prints one row per variant with what changed, the costs and a validation loss', () => {
    const out = outDir('architecture-sweep');
    const r = runExample('architecture-sweep/run.mjs', { STEPS: '2', EXAMPLE_OUT: out });
    expect(r.code, r.stderr).toBe(0);
    const row = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
    expect(row('base')).toMatch(/99,776 +688,128 +512 +[\d.]+$/);
    expect(row('gqa')).toMatch(/attention\.kv_heads: 4 → 2 .*−8,320 .* 256 +[\d.]+$/);
    expect(row('mqa')).toMatch(/attention\.kv_heads: 4 → 1 .* 128 +[\d.]+$/);
    expect(row('moe')).toMatch(/mlp\.experts: 1 → 4, mlp\.top_k: none → 2 \(\+\d more\)/);
    expect(row('alibi')).toMatch(/positions: rope\(base: 10000, fraction: 1\) → alibi .* 0 /);
    for (const v of ['gqa', 'mqa', 'moe', 'alibi']) expect(existsSync(join(out, `base-vs-${v}.svg`))).toBe(true);
    // Five short training runs in child processes: ~30 s alone, several times that beside the
    // suite's other GPU files on a 2-core CI machine.
  }, 360_000);
});
