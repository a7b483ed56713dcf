/**
 * `mspec sample` with device-side sampling and `--draft` (issue 13), as a user runs it: the same
 * seed gives the same text with device sampling (any --chunk) and --host-sampling; greedy
 * speculative decoding prints the target's greedy text and its acceptance rate and speed-up
 * (also as --json); bad options and mismatched drafts are one-line errors with exit code 2.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mspec, ROOT } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mspec-speculative-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const spec = join(dir, 'pair.model');
// Byte-level (vocab 256 gives the byte tokenizer), tiny; `other` has another vocabulary, `long` a larger context.
writeFileSync(
  spec,
  `import "${join(ROOT, 'specs/gpt2-small.model')}"
model target extends gpt2_small { vocab = 256, context = 32, d_model = 16, layers = 2, block { attention { heads: 2 } } }
model draft extends target { d_model = 8, layers = 1, block { attention { heads: 1 } } }
model other extends draft { vocab = 260 }
model long extends draft { context = 64 }
`,
);
const target = `${spec}#target`;
const noTrace = (s: string) => !/at .*\.js:\d+|^Error:/m.test(s);
const base = ['--prompt', 'ab', '--max-tokens', '12', '--seed', '3'];

describe('mspec sample: device sampling', () => {
  it('the same text with device sampling (adaptive and --chunk 1) and --host-sampling', () => {
    const args = ['sample', target, ...base, '--temperature', '0.9', '--top-k', '50'];
    const a = mspec(...args);
    expect(a.code, a.stderr).toBe(0);
    expect(mspec(...args, '--chunk', '1').stdout).toBe(a.stdout);
    expect(mspec(...args, '--host-sampling').stdout).toBe(a.stdout);
  }, 120_000);
});

describe('mspec sample --draft', () => {
  it('greedy: the target greedy text; acceptance and speed-up on stderr and in --json', () => {
    const plain = mspec('sample', target, ...base, '--temperature', '0');
    expect(plain.code, plain.stderr).toBe(0);
    const spec2 = mspec('sample', target, ...base, '--temperature', '0', '--draft', `${spec}#draft`, '--lookahead', '3');
    expect(spec2.code, spec2.stderr).toBe(0);
    expect(spec2.stdout).toBe(plain.stdout);
    expect(spec2.stderr).toMatch(
      /speculative: lookahead 3, acceptance \d+\.\d% \(\d+\/\d+\), \d+ tokens\/s vs \d+ for the target alone: speed-up \d+\.\d\dx/,
    );
    const json = mspec('sample', target, ...base, '--temperature', '0', '--draft', `${spec}#draft`, '--json');
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as { text: string; acceptance: number; speedup: number; lookahead: number; produced: number };
    expect(r.text + '\n').toBe(plain.stdout);
    expect(r.lookahead).toBe(4);
    expect(r.produced).toBe(12);
    expect(r.acceptance).toBeGreaterThanOrEqual(0);
    expect(r.speedup).toBeGreaterThan(0);
  }, 240_000);

  const usage = (args: string[], message: string) => {
    const r = mspec(...args);
    expect(r.stderr).toContain(message);
    expect(r.code, r.stderr).toBe(2);
    expect(noTrace(r.stderr)).toBe(true);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error')).length,
    ).toBe(1);
  };
  it('--lookahead 0', () => usage(['sample', target, '--lookahead', '0'], '--lookahead must be an integer in [1, 16], found 0'));
  it('--chunk 0', () => usage(['sample', target, '--chunk', '0'], '--chunk must be an integer in [1, 2^10], found 0'));
  it('--top-p 0', () => usage(['sample', target, '--top-p', '0'], '--top-p must be a number in (0, 1], found 0'));
  it(
    'a draft with another vocabulary',
    () => usage(['sample', target, ...base, '--draft', `${spec}#other`], "error: the draft 'other' has a vocabulary of 260"),
    120_000,
  );
  it(
    'a draft with a larger context',
    () =>
      usage(
        ['sample', target, ...base, '--draft', `${spec}#long`],
        "error: the draft 'long' has a context of 64 tokens, larger than the target 'target''s 32",
      ),
    120_000,
  );
});
