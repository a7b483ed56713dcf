/**
 * `mspec build specs/mixtral-8x7b.model` on this machine's adapter (lavapipe: 128 MiB bindings,
 * 4 GiB buffers). Nothing is allocated: the build plans within the limits and writes its files.
 * The whole-context prefill (32,768 × 4,096 f32 rows, 512 MiB) cannot be bound, so the prefill is
 * chunked; each layer's stacked experts ([8, 14336, 4096] f32, 1.9 GB) are bound in chunks of
 * expert rows; the token table and LM head in vocabulary chunks. `--explain` says so.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mspec } from './run-cli.js';

const OUT = mkdtempSync(join(tmpdir(), 'mspec-mixtral-'));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

describe('mspec build specs/mixtral-8x7b.model', () => {
  it('builds, with a chunked prefill and chunked expert bindings that --explain lists', () => {
    const r = mspec('build', 'specs/mixtral-8x7b.model', '-o', OUT, '--explain');
    expect(r.stderr.replace(/.*maxDynamic.*\n?/g, '')).toBe('');
    expect(r.code).toBe(0);
    const dir = join(OUT, 'mixtral_8x7b');
    for (const f of ['plan.json', 'manifest.json', 'model.js', 'model.d.ts']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(r.stdout).toMatch(/planned for maxStorageBufferBindingSize 134217728, maxBufferSize \d+/);
    expect(r.stdout).toContain('mixtral_8x7b prefill plan (B=1, T=1024)');
    expect(r.stdout).toContain('chunked prefill: 1024 rows per pass');
    expect(r.stdout).toMatch(
      /layers\.0\.moe\.experts\.up\.weight +1879048192 B {2}bound as 16 distinct ranges \(chunks\) of at most 134217728 B/,
    );
    expect(r.stdout).toMatch(/embed\.tokens\.weight +524288000 B {2}bound as 4 distinct ranges/);
    expect(r.stdout).toMatch(/lm_head\.weight +524288000 B {2}bound as 4 distinct ranges/);
    const data = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8'));
    expect(data.plans.prefill.T).toBe(1024);
    expect(data.plans.prefill.io.lastRow).toBe('last_row');
    expect(data.plans.decode.T).toBe(1);
    // No binding of either plan exceeds the limit.
    for (const plan of [data.plans.prefill, data.plans.decode]) {
      const bytes = new Map(plan.buffers.map((b: { name: string; bytes: number }) => [b.name, b.bytes]));
      for (const s of plan.steps)
        if (s.kind === 'kernel')
          for (const [k, name] of Object.entries(s.bind as Record<string, string>))
            expect(s.ranges?.[k]?.size ?? bytes.get(name), `${s.scope} ${k}`).toBeLessThanOrEqual(2 ** 27);
    }
  }, 180_000);
});
