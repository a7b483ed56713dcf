/**
 * `mspec export --to hf` (compiler/cli/export/hf.ts), the inverse of `mspec import`: each tiny
 * Hugging Face fixture (test/fixtures/hf/<family>/) is imported to a spec and an mspec
 * checkpoint, exported back to a Hugging Face folder, and imported again. The two specs are the
 * same (`mspec diff` exits 0), the re-imported checkpoint's tensors equal the first import's bit
 * for bit, and the exported model.safetensors holds the fixture's own tensors under the fixture's
 * own names with the same values (after widening the fixtures' BF16/F16 to f32) — so the export
 * is what the family's Hugging Face code loads, which is stronger than equal logits; for three
 * families (GPT-2's Conv1D transposes, GPT-NeoX's interleaved fused QKV, T5 v1.1's gated
 * encoder–decoder) the CPU interpreter's logits of the round trip are also compared with the
 * first import's (equal) and PyTorch's. Then spec-only exports of the bundled specs that map onto
 * a family (the config imported again gives the spec's parameter count and knobs), and bad
 * input: a spec no family states, a missing file, an output folder in the way — exit 2, a message
 * naming the knob or file, nothing written. No PyTorch needed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runDiff } from '../../compiler/cli/diff.js';
import { runExportHf } from '../../compiler/cli/export/hf.js';
import { importHf, runImport } from '../../compiler/cli/import/driver.js';
import { compileFile } from '../../compiler/index.js';
import { interpretGraph } from '../../compiler/ir/interpret.js';
import { diffKnobs } from '../../compiler/passes/diff.js';
import { readHfWeights } from '../../runtime/checkpoint/hf-weights.js';
import { asF32, readSafetensors, writeSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { describeWorst, type Tol, worstOf } from '../helpers/torch-compare.js';

const HF = join(import.meta.dirname, '../fixtures/hf');
const SPECS = join(import.meta.dirname, '../../specs');
const FAMILIES = ['gpt2', 'llama', 'mistral', 'mixtral', 'gpt_neox', 'falcon', 'phi', 'bert', 't5', 't5_v1_1'] as const;
const MODEL_TYPE: Record<(typeof FAMILIES)[number], string> = {
  gpt2: 'gpt2',
  llama: 'llama',
  mistral: 'mistral',
  mixtral: 'mixtral',
  gpt_neox: 'gpt_neox',
  falcon: 'falcon',
  phi: 'phi',
  bert: 'bert',
  t5: 't5',
  t5_v1_1: 't5',
};
/** Tensors a T5 export writes beside `shared.weight` (the aliases T5 files carry; the t5 fixture omits them). */
const T5_ALIASES = ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'];
const TOL: Tol = { abs: 1e-4, rel: 1e-5 };

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mspec-export-hf-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `fn` with stdout and stderr captured. */
async function captured(fn: () => number | Promise<number>) {
  const text = { out: '', err: '' };
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((text.out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((text.err += String(s)), true));
  try {
    return { code: await fn(), ...text };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const exportHf = (input: string, out: string, force?: boolean) => captured(() => runExportHf({ input, out, force }));

/** Every tensor of a safetensors file as f32, by name. */
const f32s = (path: string) => new Map([...readSafetensors(path).tensors].map(([n, t]) => [n, asF32(t, n)]));

function expectSameValues(got: Float32Array | undefined, want: Float32Array, what: string) {
  expect(got, what).toBeDefined();
  expect(got!.length, what).toBe(want.length);
  const bad = want.findIndex((v, i) => !Object.is(v, got![i]));
  expect(bad, `${what}: first difference at ${bad}`).toBe(-1);
}

interface Expected {
  B: number;
  T: number;
  S?: number;
  tokens: number[][];
  segments?: number[][];
  src_tokens?: number[][];
  logits: number[];
}

/** The CPU interpreter's logits of `spec` with the checkpoint's weights, on the fixture's tokens. */
function interpreterLogits(spec: string, ckpt: string, exp: Expected): Float32Array {
  const graph = compileFile(spec).models[0]!.graph!;
  const inputs = new Map<string, Int32Array>([
    ['tokens', Int32Array.from(exp.tokens.flat())],
    ['positions', Int32Array.from({ length: exp.T }, (_, i) => i)],
    ['targets', new Int32Array(exp.B * exp.T)],
    ['segments', Int32Array.from(exp.segments?.flat() ?? [])],
    ['src_tokens', Int32Array.from(exp.src_tokens?.flat() ?? [])],
  ]);
  const fed = new Map([...inputs].filter(([n]) => graph.inputs.some((v) => graph.values[v]!.name === n)));
  const values = interpretGraph(graph, { params: f32s(ckpt), inputs: fed, B: exp.B, T: exp.T, ...(exp.S ? { S: exp.S } : {}) });
  return values.get(graph.outputs.find((v) => graph.values[v]!.name.endsWith('logits'))!)!.data as Float32Array;
}

describe.each(FAMILIES)('export --to hf: %s round trip', (family) => {
  it('import → export → import gives the same spec, the same tensors, and the fixture’s own HF tensors', async () => {
    const a = join(tmp, family, 'a');
    const b = join(tmp, family, 'b');
    mkdirSync(a, { recursive: true });
    mkdirSync(b, { recursive: true });
    const spec1 = join(a, `${family}.model`);
    const ckpt1 = join(a, `${family}.safetensors`);
    const first = await captured(() => runImport({ input: join(HF, family), out: spec1, checkpoint: ckpt1 }));
    expect(first.code, first.err).toBe(0);

    const dir = join(tmp, family, 'hf');
    const exported = await exportHf(ckpt1, dir);
    expect(exported.code, exported.err).toBe(0);
    expect(exported.err).toBe('');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.model_type).toBe(MODEL_TYPE[family]);
    const fixtureConfig = JSON.parse(readFileSync(join(HF, family, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.architectures).toEqual(fixtureConfig.architectures);

    // The exported weights are the fixture's tensors, by the fixture's names.
    const original = readHfWeights(join(HF, family))!;
    const written = f32s(join(dir, 'model.safetensors'));
    expect(readSafetensors(join(dir, 'model.safetensors')).metadata).toEqual({ format: 'pt' });
    for (const [name, t] of original) {
      expect(readSafetensors(join(dir, 'model.safetensors')).tensors.get(name)?.shape, name).toEqual(t.shape);
      expectSameValues(written.get(name), t.data, `HF tensor ${name}`);
    }
    const extra = [...written.keys()].filter((n) => !original.has(n));
    if (family.startsWith('t5')) {
      expect(
        extra.every((n) => T5_ALIASES.includes(n)),
        extra.join(', '),
      ).toBe(true);
      for (const n of extra) expectSameValues(written.get(n), original.get('shared.weight')!.data, n);
    } else expect(extra).toEqual([]);

    // Imported again: no warnings, the same spec (mspec diff exits 0) and the same tensors.
    const spec2 = join(b, `${family}.model`);
    const ckpt2 = join(b, `${family}.safetensors`);
    const second = await captured(() => runImport({ input: dir, out: spec2, checkpoint: ckpt2 }));
    expect(second.code, second.err).toBe(0);
    expect(second.err).toBe('');
    const diff = await captured(() => runDiff({ a: spec1, b: spec2, json: false }));
    expect(diff.code, diff.out + diff.err).toBe(0);
    const t1 = f32s(ckpt1);
    const t2 = f32s(ckpt2);
    expect([...t2.keys()].sort()).toEqual([...t1.keys()].sort());
    for (const [name, v] of t1) expectSameValues(t2.get(name), v, `mspec tensor ${name}`);
  });
});

describe('export --to hf: what travels with the weights', () => {
  it('GPT-2: the model card’s license and the tokenizer come back', async () => {
    const dir = join(tmp, 'gpt2', 'hf');
    if (!existsSync(dir)) return; // the round trip above failed, and said so
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/^---\nlicense: mit\n/);
    expect(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'))).toEqual(
      JSON.parse(readFileSync(join(HF, 'gpt2', 'tokenizer.json'), 'utf8')),
    );
    expect(JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'))).toEqual(
      JSON.parse(readFileSync(join(HF, 'gpt2', 'tokenizer_config.json'), 'utf8')),
    );
    const back = importHf(dir, join(tmp, 'gpt2-card.model'));
    expect(back.spec).toContain('license = "MIT"');
    expect(back.tokenizer?.kind).toBe('hf');
  });

  it('a checkpoint’s recorded license (mspec.license) is the one the card states', async () => {
    const src = join(tmp, 'llama', 'a', 'llama.safetensors');
    if (!existsSync(src)) return;
    const st = readSafetensors(src);
    const ckpt = join(tmp, 'llama-licensed.safetensors');
    writeSafetensors(ckpt, {
      tensors: st.tensors,
      metadata: { ...st.metadata, 'mspec.license': JSON.stringify({ id: 'llama2', name: 'Llama 2 Community License', kind: 'community' }) },
    });
    const dir = join(tmp, 'llama-licensed');
    const r = await exportHf(ckpt, dir);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('license: llama2');
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/^---\nlicense: llama2\n/);
    expect(importHf(dir, join(tmp, 'llama-licensed.model')).spec).toContain('license = "llama2"');
  });

  it.each(['gpt2', 'gpt_neox', 't5_v1_1'] as const)(
    '%s: the round trip’s interpreter logits equal the first import’s and PyTorch’s',
    (family) => {
      const a = join(tmp, family, 'a');
      const b = join(tmp, family, 'b');
      if (!existsSync(join(b, `${family}.safetensors`))) return;
      const exp = JSON.parse(readFileSync(join(HF, family, 'expected.json'), 'utf8')) as Expected;
      const before = interpreterLogits(join(a, `${family}.model`), join(a, `${family}.safetensors`), exp);
      const after = interpreterLogits(join(b, `${family}.model`), join(b, `${family}.safetensors`), exp);
      expectSameValues(after, before, `${family} logits`);
      const w = worstOf(after, exp.logits, TOL);
      expect(w.excess, describeWorst(`${family} logits after the round trip`, w)).toBeLessThanOrEqual(1);
    },
  );
});

describe('export --to hf: bundled specs without weights', () => {
  const MAPPED = {
    'gpt2-small': 'gpt2',
    'gpt2-medium': 'gpt2',
    'char-gpt': 'gpt2',
    'llama2-7b': 'llama',
    'tiny-llama': 'llama',
    'mistral-7b': 'mistral',
    'mixtral-8x7b': 'mixtral',
    'tiny-mixtral': 'mixtral',
    't5-small': 't5',
  } as const;

  it.each(Object.entries(MAPPED))('%s → %s: config.json imported gives the same parameter count and knobs', async (name, modelType) => {
    const spec = join(SPECS, `${name}.model`);
    const dir = join(tmp, 'specs', name);
    const r = await exportHf(spec, dir);
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'config.json']);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.model_type).toBe(modelType);
    const model = compileFile(spec).models[0]!;
    const back = importHf(dir, join(tmp, `${name}-back.model`));
    expect(back.warnings).toEqual([]);
    expect(back.params).toBe(model.analysis!.params.total);
    const backSpec = compileFile(back.sources.entry, {
      host: { readFile: (p) => back.sources.files[p] ?? { error: 'missing' }, charVocab: () => 0 },
      analyze: false,
    }).models[0]!.spec;
    // Training-only knobs (the train section, dropout) are not part of a Hugging Face config.
    const differ = diffKnobs(model.spec, backSpec).filter((k) => k.group !== 'train' && !/(^|\.)dropout$/.test(k.path));
    expect(differ).toEqual([]);
    if (model.spec.license) expect(back.spec).toContain(`license = "${model.spec.license.id}"`);
  });
});

describe('export --to hf: bad input', () => {
  const write = (name: string, text: string) => {
    const path = join(tmp, 'bad', name);
    mkdirSync(join(tmp, 'bad'), { recursive: true });
    writeFileSync(path, text);
    return path;
  };
  const decoder = (positions: string, attention: string, extra = '') => `model m {
  vocab = 61
  context = 16
  d_model = 32
  layers = 2
  bias = true
  embedding { positions: ${positions}, tied: true }
  block {
    norm: layernorm(eps: 1e-5)
    placement: pre
    ${extra}
    attention { ${attention} }
    mlp { activation: gelu_tanh, hidden: 128 }
  }
  final_norm = layernorm(eps: 1e-5)
}
`;

  /** Exit 2, a message matching every pattern, and nothing at (or beside) `out`. */
  async function refused(input: string, patterns: RegExp[]) {
    const out = join(tmp, 'bad', `out-${Math.random().toString(36).slice(2)}`);
    const r = await exportHf(input, out);
    expect(r.code, r.err).toBe(2);
    for (const p of patterns) expect(r.err).toMatch(p);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(tmp, 'bad')).filter((f) => f.includes('.tmp'))).toEqual([]);
    return r;
  }

  it('ALiBi: no family uses it', async () => {
    await refused(write('alibi.model', decoder('alibi', 'heads: 4, causal')), [
      /embedding\.positions = alibi/,
      /no family among/,
      /--to torch/,
    ]);
  });

  it('a sliding window on a GPT-2-shaped spec: names the window knob', async () => {
    await refused(write('window.model', decoder('learned', 'heads: 4, window: 4, causal')), [
      /block\.attention\.window = 4 has no gpt2 form/,
      /--to torch/,
    ]);
  });

  it('a parallel block with RMSNorm: names the knob llama cannot state', async () => {
    const text = decoder('rope(base: 10000)', 'heads: 4, causal', 'parallel: true\n    shared_norm: false')
      .replace(/layernorm\(eps: 1e-5\)/g, 'rmsnorm(eps: 1e-5)')
      .replace('gelu_tanh', 'swiglu')
      .replace('bias = true', 'bias = false');
    await refused(write('parallel-rms.model', text), [/block\.parallel = true has no llama form/]);
  });

  it('per-layer differences: a Hugging Face config states one value for every layer', async () => {
    const text = decoder('learned', 'heads: 4, causal').replace('final_norm', 'block[1] { attention { heads: 2 } }\n  final_norm');
    await refused(write('per-layer.model', text), [/layers\[1\]\.attention\.heads = 2, but layer 0 has 4/, /one value for every layer/]);
  });

  it('a BERT spec without the MLM head has no spec-only form (only a checkpoint says it)', async () => {
    await refused(join(SPECS, 'bert-base.model'), [/head\.kind = none has no bert form without weights/, /export a checkpoint/]);
  });

  it('a tied T5 without HF’s output scaling names logit_scale', async () => {
    await refused(join(SPECS, 'tiny-t5.model'), [/logit_scale = 1 has no t5 form/]);
  });

  it('a missing file', async () => {
    await refused(join(tmp, 'nope.model'), [/cannot read '.*nope\.model': no such file/]);
    await refused(join(tmp, 'nope.safetensors'), [/nope\.safetensors/]);
  });

  it('an output folder in the way: refused when not empty (left untouched), used when empty, replaced with force', async () => {
    const spec = join(SPECS, 'gpt2-small.model');
    const full = join(tmp, 'bad', 'full');
    mkdirSync(full, { recursive: true });
    writeFileSync(join(full, 'keep.txt'), 'mine');
    const r = await exportHf(spec, full);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/'.*full' exists and is not empty/);
    expect(readdirSync(full)).toEqual(['keep.txt']);

    const empty = join(tmp, 'bad', 'empty');
    mkdirSync(empty, { recursive: true });
    expect((await exportHf(spec, empty)).code).toBe(0);
    expect(readdirSync(empty).sort()).toEqual(['README.md', 'config.json']);

    const forced = await exportHf(spec, full, true);
    expect(forced.code, forced.err).toBe(0);
    expect(readdirSync(full).sort()).toEqual(['README.md', 'config.json']);
    expect(readdirSync(join(tmp, 'bad')).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});

describe('mspec export --to hf (the command, from dist/)', () => {
  const CLI = join(import.meta.dirname, '../../dist/compiler/cli/main.js');
  const mspec = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

  it('exports a checkpoint, and refuses an occupied folder with exit 2', () => {
    const ckpt = join(tmp, 'phi', 'a', 'phi.safetensors');
    if (!existsSync(ckpt)) return;
    const dir = join(tmp, 'cli-phi');
    const ok = mspec('export', ckpt, '--to', 'hf', '-o', dir);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('phi model');
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'config.json', 'model.safetensors']);
    const again = mspec('export', ckpt, '--to', 'hf', '-o', dir);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/exists and is not empty/);
    const alibi = mspec('export', join(tmp, 'bad', 'alibi.model'), '--to', 'hf', '-o', join(tmp, 'cli-alibi'));
    expect(alibi.status).toBe(2);
    expect(alibi.stderr).toMatch(/alibi/);
    expect(existsSync(join(tmp, 'cli-alibi'))).toBe(false);
  });
});
