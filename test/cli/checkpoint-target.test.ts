/**
 * The commands that describe a spec also take a checkpoint (or its run folder): the checkpoint
 * carries its spec's files, so `info`, `check`, `diff` and `graph` work without them on disk.
 * A file that is not such a checkpoint says what it is instead; a binary file given as a spec
 * never floods the terminal with its bytes.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { f32Tensor, writeSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { mspec, ROOT } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mspec-ckpt-target-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The spec lives only inside the checkpoint: its recorded path does not exist here.
const entry = join(dir, 'gone', 'small.model');
const spec =
  'model small {\n  vocab = 300\n  context = 32\n  d_model = 48\n  layers = 3\n' +
  '  block { attention { heads: 4, kv_heads: 2, causal } mlp { activation: swiglu, hidden: 128 } }\n}\n';
const run = join(dir, 'run');
mkdirSync(run);
const weightsMeta = {
  'mspec.model': 'small',
  'mspec.spec': JSON.stringify({ entry, files: { [entry]: spec } }),
  'mspec.tokenizer': JSON.stringify({ kind: 'byte' }),
  'mspec.step': '10',
};
writeSafetensors(join(run, 'last.safetensors'), {
  metadata: weightsMeta,
  tensors: new Map([['x', f32Tensor([1], new Float32Array([0]))]]),
});
writeSafetensors(join(run, 'optimizer.safetensors'), {
  metadata: { 'mspec.step': '10', 'mspec.run_state': '{"step":10}' },
  tensors: new Map([['m', f32Tensor([1], new Float32Array([0]))]]),
});
const ckpt = join(run, 'last.safetensors');

describe('a checkpoint where a spec is expected', () => {
  it('info describes the model the checkpoint carries, by file or by run folder', () => {
    for (const target of [ckpt, run]) {
      const r = mspec('info', target, '--json');
      expect(r.code, r.stderr).toBe(0);
      const info = JSON.parse(r.stdout) as { model: string; architecture: { layers: number } };
      expect(info.model).toBe('small');
    }
    const text = mspec('info', ckpt);
    expect(text.stdout).toMatch(/^small\n.*3 layers · d_model 48 · 4 heads \(GQA 2:1\)/);
  });

  it('check, diff and graph take it too', () => {
    expect(mspec('check', ckpt).stdout).toContain(`${ckpt}: ok (small)`);
    const d = mspec('diff', ckpt, join(ROOT, 'specs', 'tiny-llama.model'));
    expect(d.stdout).toMatch(/small → tiny_llama/);
    const g = mspec('graph', run, '-o', join(dir, 'g.mmd'));
    expect(g.code, g.stderr).toBe(0);
  });

  it("a run's optimizer state, a missing file and a file that is not safetensors each say what is wrong", () => {
    const opt = mspec('info', join(run, 'optimizer.safetensors'));
    expect(opt.code).toBe(1);
    expect(opt.stderr).toMatch(
      /MS5001: .*is a run's optimizer state \(for --resume\), not its weights; use the last\.safetensors beside it/,
    );
    const missing = mspec('check', join(dir, 'nope.safetensors'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/MS5001: cannot read '.*nope\.safetensors': no such file/);
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, Buffer.alloc(64, 0xff));
    const j = mspec('info', junk);
    expect(j.code).toBe(1);
    expect(j.stderr).toMatch(/MS5001: .*is not a safetensors file/);
    expect(j.stderr).not.toMatch(/MS9001|\n\s+at /);
  });

  it('a binary file read as a spec shows a short, printable excerpt', () => {
    const bin = join(dir, 'weights.model');
    writeFileSync(bin, Buffer.concat([Buffer.from(`model a { vocab = 1 ${'x'.repeat(5000)}`), Buffer.from([0, 1, 2, 0xfd, 0xfe])]));
    const r = mspec('check', bin);
    expect(r.code).toBe(1);
    const longest = Math.max(...r.stderr.split('\n').map((l) => l.length));
    expect(longest).toBeLessThan(200);
    expect(r.stderr).not.toMatch(/[\u0000-\u0008]/);
  });
});
