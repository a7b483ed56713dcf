/**
 * A batch too large for one dispatch (batch × seq_len rows over WebGPU's 65,535 workgroups per
 * axis) is the device limit it is: MS4002 naming the rows and what to do, exit 1 — not an
 * internal compiler error with a stack trace.
 */
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
});
