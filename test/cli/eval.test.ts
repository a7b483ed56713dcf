/**
 * `mspec eval` as a user runs it, on checkpoints made here: weights drawn from the init rule
 * and scaled up so the model's predictions are sharp (a misaligned target or a token scored
 * twice would move the loss by far more than the tolerance), with the metadata `mspec train`
 * writes. The reported loss is checked against the CPU interpreter on the same weights, with
 * the windows worked out independently here (Hugging Face's sliding-window loop).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { initParams, interpretGraph } from '../../compiler/ir/interpret.js';
import type { Graph } from '../../compiler/ir/graph.js';
import { f32Tensor, writeSafetensors, type STTensor } from '../../runtime/checkpoint/safetensors.js';
import { scoredBytes } from '../../runtime/eval/text.js';
import { gpt2Tokenizer } from '../../runtime/tokenizers/gpt2.js';
import { byteTokenizer, charTokenizer } from '../../runtime/tokenizers/index.js';
import { mspec, ROOT } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-eval-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const BYTE_SPEC = `model tiny_byte {
  vocab = 256
  context = 16
  d_model = 32
  layers = 2
  embedding { positions: learned, tied: true }
  block {
    attention { heads: 2 }
    mlp { activation: gelu_tanh }
  }
}

train tiny_byte {
  data = "corpus.txt"
  tokenizer = byte
  batch = 4
  val_fraction = 0.25
}
`;

interface Made {
  readonly path: string;
  readonly graph: Graph;
  readonly params: Map<string, Float32Array>;
}

/** A checkpoint of `spec` as `mspec train` writes it, with sharp (scaled-up) init weights. */
function makeCheckpoint(spec: string, out: string, scale: number): Made {
  const r = compileGpu(spec, { tuning: 'cpu' });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const { model, data } = r.models[0]!;
  const params = initParams(model.graph!, 3);
  for (const p of data.params)
    if (p.init.kind === 'normal')
      params.set(
        p.name,
        params.get(p.name)!.map((x) => x * scale),
      );
  const tensors = new Map<string, STTensor>(data.params.map((p) => [p.name, f32Tensor(p.shape, params.get(p.name)!)]));
  const metadata: Record<string, string> = {
    format: 'pt',
    'mspec.version': data.mspecVersion,
    'mspec.model': data.name,
    'mspec.spec': data.spec.source,
    'mspec.spec_path': data.spec.path,
    'mspec.spec_sha256': data.spec.hash,
    'mspec.tokenizer': JSON.stringify(data.tokenizer),
    'mspec.step': '5',
  };
  writeSafetensors(out, { tensors, metadata });
  return { path: out, graph: model.graph!, params };
}

/**
 * Σ −ln p over tokens 1 … n−1 on the CPU interpreter (float64 log-softmax). Window k reads
 * tokens [k·stride, k·stride + T) and so predicts tokens k·stride + 1 … k·stride + T; each
 * token is scored by the first window that predicts it.
 */
function referenceNll(m: Made, ids: readonly number[], T: number, stride: number): { nll: number; scored: number; windows: number } {
  const g = m.graph;
  const logitsId = g.outputs.find((v) => g.values[v]!.name.endsWith('logits'))!;
  const done = new Array<boolean>(ids.length).fill(false);
  done[0] = true; // no context: never scored
  let nll = 0;
  let windows = 0;
  for (let begin = 0; done.includes(false); begin += stride) {
    const x = ids.slice(begin, begin + T);
    const inputs = new Map<string, Int32Array>(
      (
        [
          ['tokens', Int32Array.from(x)],
          ['positions', Int32Array.from(x, (_, i) => i)],
          ['targets', new Int32Array(x.length).fill(-1)],
        ] as [string, Int32Array][]
      ).filter(([n]) => g.inputs.some((v) => g.values[v]!.name === n)),
    );
    const logits = interpretGraph(g, { params: m.params, inputs, B: 1, T: x.length }).get(logitsId)!.data;
    const V = logits.length / x.length;
    for (let p = 0; p < x.length && begin + p + 1 < ids.length; p++) {
      const tgt = begin + p + 1;
      if (done[tgt]) continue;
      const row = logits.subarray(p * V, (p + 1) * V);
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      nll += max + Math.log(sum) - row[ids[tgt]!]!;
      done[tgt] = true;
    }
    windows++;
  }
  return { nll, scored: ids.length - 1, windows };
}

/** `mspec(...)` without blocking, so independent runs overlap. */
function mspecAsync(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/compiler/cli/main.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const evalJson = (...args: string[]) => {
  const r = mspec('eval', ...args, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, number | string>;
};

describe('mspec eval', () => {
  copyFileSync(join(ROOT, 'test/cli/fixtures/tiny-corpus.txt'), join(tmp, 'corpus.txt'));
  writeFileSync(join(tmp, 'byte.model'), BYTE_SPEC);
  const byte = makeCheckpoint(join(tmp, 'byte.model'), join(tmp, 'byte.safetensors'), 40);
  const text = 'the sea ahab storm whale crew, the boat; ocean deck mast.\nCall me Ishmael! Some years ago — never mind how long.\n';
  writeFileSync(join(tmp, 'text.txt'), text);
  const ids = Array.from(new TextEncoder().encode(text));

  it('scores every token once: the loss matches the CPU interpreter, bits/byte = loss/ln 2 for bytes', () => {
    const got = evalJson(byte.path, '--data', join(tmp, 'text.txt'));
    const want = referenceNll(byte, ids, 16, 16);
    expect(want.nll / want.scored).toBeGreaterThan(1); // the weights are sharp enough to tell alignments apart
    expect(got.tokens).toBe(ids.length - 1);
    expect(got.bytes).toBe(ids.length - 1);
    expect(got.windows).toBe(want.windows);
    expect(got.loss as number).toBeCloseTo(want.nll / want.scored, 4);
    expect(got.perplexity as number).toBeCloseTo(Math.exp(got.loss as number), 9);
    expect(got.bits_per_byte as number).toBeCloseTo((got.loss as number) / Math.LN2, 12);
    expect(got.step).toBe(5);
  });

  it('a sliding window (stride < window) scores only the new tokens of each window, in odd batches', () => {
    const got = evalJson(byte.path, '--data', join(tmp, 'text.txt'), '--seq-len', '12', '--stride', '5', '--batch', '3');
    const want = referenceNll(byte, ids, 12, 5);
    expect([got.tokens, got.windows, got.batch]).toEqual([ids.length - 1, want.windows, 3]);
    expect(got.loss as number).toBeCloseTo(want.nll / want.scored, 4);
  });

  it("defaults to the checkpoint's validation split (the last val_fraction of its training data)", () => {
    const n = readFileSync(join(tmp, 'corpus.txt')).length; // byte tokens = bytes
    const val = n - Math.floor(n * 0.75);
    const r = mspec('eval', byte.path);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `tiny_byte (step 5) on the validation split of 'corpus.txt' (its last 25%): ${(val - 1).toLocaleString('en-US')} byte tokens scored`,
    );
    const loss = Number(/loss +([\d.]+) nats\/token/.exec(r.stdout)![1]);
    expect(Number(/bits\/byte +([\d.]+)/.exec(r.stdout)![1])).toBeCloseTo(loss / Math.LN2, 4);
    expect(Math.log(Number(/perplexity +([\d.]+)/.exec(r.stdout)![1]))).toBeCloseTo(loss, 4);
  });

  it('bits per byte counts the UTF-8 bytes of the scored text exactly (char, GPT-2 pieces of a character)', () => {
    const s = 'Ça va? 漢字 🎉 — fin';
    const gpt2 = gpt2Tokenizer();
    const a = gpt2.encode('a');
    expect(a).toHaveLength(1);
    // Token 0 is never scored: behind an ASCII token, the scored bytes are all of the text's.
    expect(scoredBytes(gpt2, [...a, ...gpt2.encode(s)])).toBe(Buffer.byteLength(s));
    expect(scoredBytes(gpt2, gpt2.encode(s))).toBeLessThan(Buffer.byteLength(s)); // 'Ç' starts with a token of part of it
    const chars = charTokenizer([...new Set(Array.from(s))]);
    expect(scoredBytes(chars, chars.encode(s))).toBe(Buffer.byteLength(s) - Buffer.byteLength('Ç'));
    expect(scoredBytes(byteTokenizer(), byteTokenizer().encode(s))).toBe(Buffer.byteLength(s) - 1);
  });

  it('names a character outside a char vocabulary with its line and column', () => {
    const char = makeCheckpoint('test/cli/fixtures/tiny-train.model', join(tmp, 'char.safetensors'), 1);
    writeFileSync(join(tmp, 'accent.txt'), 'the sea\nthe seé\n'); // the corpus has no é
    const r = mspec('eval', char.path, '--data', join(tmp, 'accent.txt'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /has the character "é" \(U\+00E9\) at line 2, column 7 \(character offset 14\), which is not in the checkpoint's character vocabulary/,
    );
  });

  it('bad input gets a one-line error and exit 1 (usage errors exit 2), never a stack trace', async () => {
    writeFileSync(join(tmp, 'empty.txt'), '');
    writeFileSync(join(tmp, 'one.txt'), 'a');
    writeSafetensors(join(tmp, 'bare.safetensors'), { tensors: new Map([['w', f32Tensor([1], new Float32Array([1]))]]), metadata: {} });
    const damaged = { 'mspec.model': 'tiny_byte', 'mspec.spec': '{oops' };
    writeSafetensors(join(tmp, 'damaged.safetensors'), {
      tensors: new Map([['w', f32Tensor([1], new Float32Array([1]))]]),
      metadata: damaged,
    });
    const cases: [string[], number, RegExp][] = [
      [[join(tmp, 'nope.safetensors')], 1, /cannot read checkpoint .*no such file/],
      [[join(tmp, 'text.txt')], 1, /text\.txt' is a text file, not a safetensors checkpoint$/m],
      [[join(tmp, 'bare.safetensors')], 1, /carries no mspec spec in its metadata/],
      [[byte.path, '--data', join(tmp, 'missing.txt')], 1, /the text to evaluate .*missing\.txt' was not found/],
      [[byte.path, '--data', join(tmp, 'empty.txt')], 1, /empty\.txt is empty: there is nothing to evaluate/],
      [[byte.path, '--data', join(tmp, 'one.txt')], 1, /is a single byte token; perplexity needs at least 2/],
      [[byte.path, '--data', join(tmp, 'text.txt'), '--stride', '17'], 2, /--stride 17 exceeds the window length 16/],
      [[byte.path, '--data', join(tmp, 'text.txt'), '--seq-len', '32'], 2, /--seq-len 32 exceeds the context of model tiny_byte \(16\)/],
      [[byte.path, '--batch', '0'], 2, /--batch must be an integer in \[1, /],
      [[join(tmp, 'damaged.safetensors')], 1, /has damaged spec metadata \(mspec\.spec: /],
      // `sample` reads a checkpoint's spec through the same code (compiler/cli/checkpoint-spec.ts).
      [['--sample', join(tmp, 'damaged.safetensors')], 1, /has damaged spec metadata \(mspec\.spec: /],
    ];
    const results = await Promise.all(
      cases.map(([args]) => (args[0] === '--sample' ? mspecAsync('sample', ...args.slice(1)) : mspecAsync('eval', ...args))),
    ); // they only start node: run them side by side
    cases.forEach(([args, code, msg], i) => {
      const r = results[i]!;
      expect([r.code, r.stderr], args.join(' ')).toEqual([code, expect.stringMatching(msg)]);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  });
});
