/**
 * A batch too large for one dispatch (batch × seq_len rows over WebGPU's 65,535 workgroups per
 * axis) is the device limit it is: MS4002 naming the rows and what to do, exit 1 — not an
 * internal compiler error with a stack trace.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mspec, ROOT } from './run-cli.js';

describe('mspec train with a batch over the dispatch limit', () => {
  it('stops with MS4002 and a hint, before training', () => {
    const r = mspec('train', join(ROOT, 'specs', 'char-gpt.model'), '--batch', '65536', '--steps', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MS4002: the device limit maxComputeWorkgroupsPerDimension \(65535\) is too small: .* over 4,194,304 rows/);
    expect(r.stderr).toMatch(/hint: use a smaller batch \(--batch\)/);
    expect(r.stderr).not.toMatch(/MS9001|internal compiler error|\n\s+at /);
  });

  it('mspec build of a spec whose train section asks for such a batch says the same', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mspec-dispatch-'));
    try {
      const spec = join(dir, 'big.model');
      writeFileSync(
        spec,
        'model big {\n  vocab = tokenizer.vocab\n  context = 64\n  d_model = 32\n  layers = 1\n' +
          '  block { attention { heads: 2, causal } mlp { hidden: 4 * d_model } }\n}\n' +
          'train big { tokenizer = char, data = "moby-dick", batch = 65536, seq_len = 64 }\n',
      );
      const r = mspec('build', spec, '-o', join(dir, 'out'));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/MS4002: the device limit maxComputeWorkgroupsPerDimension \(65535\) is too small: .* over 4,194,304 rows/);
      expect(r.stderr).not.toMatch(/MS9001|internal compiler error|\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
