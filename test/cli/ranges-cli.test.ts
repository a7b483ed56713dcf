/**
 * A command line that refuses nonsense (issue 7): every numeric option out of its range, every
 * knob out of its range, empty files and files that are not UTF-8 give one clear message and
 * the documented exit code (2 usage, 1 errors in the spec), never a stack trace or exit 0.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mspec } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mspec-ranges-'));
const file = (name: string, body: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};
const spec = (knobs: string, block = 'attention { heads: 4 }') => `model m {\n  ${knobs}\n  block { ${block} }\n}\n`;
const base = 'vocab = 100, context = 64, d_model = 64, layers = 2';
const noTrace = (s: string) => !/at .*\.js:\d+|^Error:/m.test(s);

describe('numeric options are checked against their ranges (exit 2)', () => {
  const usage = (args: string[], message: string) => {
    const r = mspec(...args);
    expect(r.stderr).toContain(message);
    expect(r.code, r.stderr).toBe(2);
    expect(noTrace(r.stderr)).toBe(true);
  };
  it('train --eval-batches 0', () =>
    usage(['train', 'specs/tiny-llama.model', '--eval-batches', '0'], '--eval-batches must be an integer in [1, 2^16], found 0'));
  it('sample --top-p 2', () =>
    usage(['sample', 'specs/tiny-llama.model', '--top-p', '2'], 'error: --top-p must be a number in (0, 1], found 2'));
  it('sample --temperature -1', () =>
    usage(['sample', 'specs/tiny-llama.model', '--temperature', '-1'], '--temperature must be a number in [0, 100], found -1'));
  it('sample --top-k -5', () =>
    usage(['sample', 'specs/tiny-llama.model', '--top-k', '-5'], '--top-k must be an integer in [0, 2^24], found -5'));
  it('sample --max-tokens -3', () =>
    usage(['sample', 'specs/tiny-llama.model', '--max-tokens', '-3'], '--max-tokens must be an integer in [1, 2^20], found -3'));
  it('sample --max-tokens abc', () =>
    usage(['sample', 'specs/tiny-llama.model', '--max-tokens', 'abc'], "--max-tokens must be an integer in [1, 2^20], found 'abc'"));
  it('sample --max-tokens 2.5 (not an integer)', () =>
    usage(['sample', 'specs/tiny-llama.model', '--max-tokens', '2.5'], '--max-tokens must be an integer in [1, 2^20], found 2.5'));
  it('train --steps 0', () => usage(['train', 'specs/char-gpt.model', '--steps', '0'], '--steps must be an integer in [1, 2^32], found 0'));
  it('train --steps -5', () =>
    usage(['train', 'specs/char-gpt.model', '--steps', '-5'], '--steps must be an integer in [1, 2^32], found -5'));
  it('train --batch 0', () => usage(['train', 'specs/char-gpt.model', '--batch', '0'], '--batch must be an integer in [1, 2^16], found 0'));
  it('train with no target', () => usage(['train'], 'error: name a spec to train, or --resume a run folder'));
  it('train --resume with --data', () =>
    usage(['train', '--resume', 'runs/x', '--data', 'moby-dick'], 'error: --resume continues a run with its own data'));
  it('train SPEC --resume', () =>
    usage(['train', 'specs/char-gpt.model', '--resume', 'runs/x'], 'error: give either a spec or --resume, not both'));
  it('info --batch -4', () =>
    usage(['info', 'specs/gpt2-small.model', '--batch', '-4'], '--batch must be an integer in [1, 2^16], found -4'));
  it('info --batch abc', () =>
    usage(['info', 'specs/gpt2-small.model', '--batch', 'abc'], "--batch must be an integer in [1, 2^16], found 'abc'"));
  it('info --batch given twice', () =>
    usage(['info', 'specs/gpt2-small.model', '--batch', '2', '--batch', '3'], '--batch is given 2 times; give it once'));
  it('--help states the ranges', () => expect(mspec('sample', '--help').stdout).toMatch(/--top-p[\s\S]*number in \(0, 1\]/));
});

describe('spec-dependent option limits (exit 1)', () => {
  it('info --seq beyond the model context', () => {
    const r = mspec('info', 'specs/gpt2-small.model', '--seq', '99999');
    expect(r.stderr).toContain('error MS5010: --seq (99999) must not exceed the context of model gpt2_small (1024)');
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('GiB');
  });
});

describe('size knobs have ranges (located diagnostics, exit 1)', () => {
  it('vocab = 1e30', () => {
    const r = mspec('check', file('vocab.model', spec('vocab = 1e30, context = 64, d_model = 64, layers = 2')));
    expect(r.stderr).toMatch(/vocab\.model:2:3: error MS2110: vocab must be in \[1, 16,777,216\], found 1e\+30/);
    expect(r.code).toBe(1);
  });
  it('experts: 1e9', () => {
    const r = mspec('check', file('experts.model', spec(base, 'attention { heads: 4 }, mlp { experts: 1e9, top_k: 2 }')));
    expect(r.stderr).toContain('error MS2110: block.mlp.experts must be in [1, 4,096], found 1000000000');
    expect(r.code).toBe(1);
  });
  it('layers = 4096 with experts: 1024', () => {
    const r = mspec(
      'check',
      file(
        'layers.model',
        spec('vocab = 100, context = 64, d_model = 64, layers = 4096', 'attention { heads: 4 }, mlp { experts: 1024, top_k: 2 }'),
      ),
    );
    expect(r.stderr).toContain('error MS2110: layers must be in [1, 1,024], found 4096');
    expect(r.code).toBe(1);
  });
  it('relative(buckets) is ranged too', () => {
    const r = mspec('check', file('buckets.model', spec(`${base}\n  embedding { positions: relative(buckets: 1e9, max_distance: 128) }`)));
    expect(r.stderr).toContain('error MS2110: relative(buckets) must be in [2, 65,536], found 1000000000');
    expect(r.code).toBe(1);
  });
  it('in-range knobs whose product passes 2^53 are an error in check, not a wrong number in info', () => {
    const product = file(
      'product.model',
      spec(
        'vocab = 16Mi, context = 16Mi, d_model = 128Ki, layers = 1024',
        'attention { heads: 1024 }, mlp { hidden: 1Mi, activation: swiglu, experts: 4096, top_k: 2 }',
      ),
    );
    expect(mspec('check', product)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('product.model:1:7: error MS2120: the total parameter count of model m is 1.'),
    });
    const r = mspec(
      'info',
      file(
        'product.model',
        spec(
          'vocab = 16Mi, context = 16Mi, d_model = 128Ki, layers = 1024',
          'attention { heads: 1024 }, mlp { hidden: 1Mi, activation: swiglu, experts: 4096, top_k: 2 }',
        ),
      ),
    );
    expect(r.stderr).toContain('error MS2120: the total parameter count of model m is 1.'); // ~1.7e18
    expect(r.code).toBe(1);
  });
  it('info on the largest in-range MoE (1,024 layers × 4,096 experts, 16 shared) finishes quickly', () => {
    const f = file(
      'top.model',
      spec(
        'vocab = 1000, context = 1024, d_model = 64, layers = 1024',
        'attention { heads: 4 }, mlp { activation: swiglu, experts: 4096, top_k: 4096, shared_experts: 16 }',
      ),
    );
    const t0 = Date.now();
    const r = mspec('info', '--json', f);
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000); // ~0.5 s on an idle machine; loose for loaded CI
    const j = JSON.parse(r.stdout);
    // 1,024 layers × 4,096 routed experts × (3 × 64 × 256 weights + biases), exactly:
    const expert = 3 * 64 * 256 + 2 * 256 + 64;
    expect(j.params.by_kind.experts).toBe(1024 * 4096 * expert);
    expect(Number.isSafeInteger(j.params.total)).toBe(true);
  });
});

describe('odd files (exit 1 with one clear message)', () => {
  const empty = file('empty.model', '');
  it('check on an empty file', () => {
    const r = mspec('check', empty);
    expect(r.stderr).toContain('error MS5011: no model in');
    expect(r.code).toBe(1);
  });
  it('info on an empty file', () =>
    expect(mspec('info', empty)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('a file defines models with `model NAME { ... }`'),
    }));
  it('diff on an empty file (2: a side cannot be compiled, like diff(1))', () =>
    expect(mspec('diff', empty, 'specs/gpt2-small.model')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('error MS5011: no model in'),
    }));
  it('build on an empty file', () =>
    expect(mspec('build', empty, '--tuning', 'cpu', '-o', join(dir, 'out'))).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('error MS5011: no model in'),
    }));
  const text = spec(base);
  it('UTF-16 is named, once', () => {
    const r = mspec('check', file('utf16.model', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])));
    expect(r.stderr).toContain(
      'utf16.model:1:1: error MS1020: the file is not UTF-8 text: it looks like UTF-16 LE (it starts with the byte-order mark FF FE); save it as UTF-8',
    );
    expect(r.stderr.match(/error/g)).toHaveLength(2); // the message and the summary line
    expect(r.code).toBe(1);
  });
  it('UTF-16 BE without a byte-order mark', () =>
    expect(mspec('check', file('utf16be.model', Buffer.from(text, 'utf16le').swap16())).stderr).toContain(
      'it looks like UTF-16 BE (every other byte is NUL)',
    ));
  it('an invalid UTF-8 byte inside a comment is located', () => {
    const bytes = Buffer.concat([Buffer.from('// caf'), Buffer.from([0xe9]), Buffer.from(`\n${text}`)]);
    const r = mspec('check', file('latin1.model', bytes));
    expect(r.stderr).toContain(
      'latin1.model:1:7: error MS1020: the file is not UTF-8 text: invalid byte 0xE9 at byte 6; save the file as UTF-8',
    );
    expect(r.code).toBe(1);
  });
  it('a UTF-8 byte-order mark is accepted', () => expect(mspec('check', file('bom.model', `\uFEFF${text}`)).code).toBe(0));
});

describe('info labels', () => {
  it("BERT's head row is its pooler", () => expect(mspec('info', 'specs/bert-base.model').stdout).toMatch(/\n {2}pooler +590,592/));
  it('an encoder with an LM head has an MLM head', () =>
    expect(
      mspec(
        'info',
        file(
          'mlm.model',
          `model m {\n  arch = encoder, ${base}\n  block { attention { heads: 4 } }\n  head { kind: lm, pooler: true }\n}\n`,
        ),
      ).stdout,
    ).toContain('MLM head (tied to embeddings) + pooler'));
  it('MoE: the compute-optimal row says which parameter count it uses, and why', () => {
    const r = mspec('info', 'specs/mixtral-8x7b.model');
    expect(r.stdout).toContain('tokens (20 × total parameters)');
    expect(r.stdout).toContain('note: mixture of experts: tokens = 20 × total parameters');
  });
});
