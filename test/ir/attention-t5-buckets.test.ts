/**
 * T5's relative-position buckets: the interpreter's t5RelativeBucket against HF transformers'
 * `_relative_position_bucket` run under PyTorch (scripts/fixtures/make_t5_buckets.py wrote
 * test/fixtures/t5/buckets.json), for T5's own 32 buckets / max_distance 128 and the small
 * tables the tests use, in both modes, for relative positions far beyond max_distance.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { t5RelativeBucket } from '../../compiler/ir/interpret/attention.js';

interface BucketCase {
  buckets: number;
  max_distance: number;
  span: number;
  bidirectional: boolean;
  buckets_of_rel: number[];
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/t5/buckets.json', import.meta.url), 'utf8')) as { cases: BucketCase[] };

describe('t5RelativeBucket equals HF T5 _relative_position_bucket', () => {
  it.each(
    fixture.cases.map(
      (c) => [`${c.buckets} buckets, max_distance ${c.max_distance}, ${c.bidirectional ? 'bidirectional' : 'causal'}`, c] as const,
    ),
  )('%s', (_, c) => {
    const ours = c.buckets_of_rel.map((_, n) => t5RelativeBucket(n - c.span, c.bidirectional, c.buckets, c.max_distance));
    expect(ours).toEqual(c.buckets_of_rel);
  });
});
