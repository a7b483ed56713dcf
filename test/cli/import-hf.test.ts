/**
 * `mspec import` of tiny Hugging Face checkpoints (test/fixtures/hf/<family>/, written by
 * scripts/fixtures/make_hf_checkpoints.py after each family's HF modelling code, in HF tensor
 * names; llama stored BF16, mistral F16, mixtral as two shards; bert with segments, MLM head and pooler): the imported spec's
 * parameter count equals the checkpoint's element count, and the imported model's logits
 * match the float64 PyTorch reference, on the CPU interpreter and on the GPU (lavapipe).
 * Then bad input: each a clear error naming the file and tensor or field, exit code 2, and
 * nothing written.
 *
 * Tolerance 1e-4 absolute + 1e-5 relative (|logit| ≤ 6), the bound the import must meet:
 * measured ≤ 1.8e-6 on the interpreter and ≤ 5.1e-6 on the GPU (lavapipe, `cpu` tuning) over
 * all eight families (TORCH_TOL_REPORT=1 prints them); a wrong split, a missing transpose or
 * a square projection left untransposed moves the logits by > 1 at std-0.25 weights (tried).
 */
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkpointSpec } from '../../compiler/cli/checkpoint-spec.js';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { importHf, runImport } from '../../compiler/cli/import/driver.js';
import { compileFile } from '../../compiler/index.js';
import { interpretGraph } from '../../compiler/ir/interpret.js';
import { asF32, f32Tensor, readSafetensors, writeSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { ModelRuntime } from '../../runtime/model-runtime.js';
import { describeWorst, type Tol, worstOf } from '../helpers/torch-compare.js';

const HF = join(import.meta.dirname, '../fixtures/hf');
const FAMILIES = ['gpt2', 'llama', 'mistral', 'mixtral', 'gpt_neox', 'falcon', 'phi', 'bert'] as const;
const TOL: Tol = { abs: 1e-4, rel: 1e-5 };

interface Expected {
  B: number;
  T: number;
  vocab: number;
  params: number;
  tokens: number[][];
  /** bert: the token_type_ids the reference ran with. */
  segments?: number[][];
  logits: number[];
}
/** TORCH_TOL_REPORT=1 prints every measured error. */
const report = (line: string) => process.env.TORCH_TOL_REPORT && console.log(line);
const expected = (family: string) => JSON.parse(readFileSync(join(HF, family, 'expected.json'), 'utf8')) as Expected;

let tmp: string;
let gpu: GpuContext;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'mspec-import-'));
  gpu = await acquireDevice();
});
afterAll(() => {
  gpu?.release();
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs the command, returning its exit code and what it wrote to stdout and stderr. */
function run(input: string, out: string, checkpoint?: string) {
  const text = { out: '', err: '' };
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((text.out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((text.err += String(s)), true));
  try {
    return { code: runImport({ input, out, checkpoint }), ...text };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe.each(FAMILIES)('import %s', (family) => {
  const exp = expected(family);

  it('parameter count and CPU-interpreter logits match the checkpoint and PyTorch', () => {
    const r = importHf(join(HF, family), join(tmp, `${family}.model`));
    expect(r.warnings).toEqual([]);
    expect(r.params).toBe(exp.params);
    expect(r.checkpointParams).toBe(exp.params);
    const compiled = compileFile(r.sources.entry, {
      host: { readFile: (p) => r.sources.files[p] ?? { error: 'missing' }, charVocab: () => 0 },
    });
    const graph = compiled.models[0]!.graph!;
    const params = new Map([...r.tensors!].map(([n, t]) => [n, asF32(t, n)]));
    const { B, T } = exp;
    const inputs = new Map<string, Int32Array>([
      ['tokens', Int32Array.from(exp.tokens.flat())],
      ['positions', Int32Array.from({ length: T }, (_, i) => i)],
      ['targets', new Int32Array(B * T)],
      ['segments', Int32Array.from(exp.segments?.flat() ?? [])],
    ]);
    const fed = new Map([...inputs].filter(([n]) => graph.inputs.some((v) => graph.values[v]!.name === n)));
    const values = interpretGraph(graph, { params, inputs: fed, B, T });
    const logits = values.get(graph.outputs.find((v) => graph.values[v]!.name.endsWith('logits'))!)!.data;
    const w = worstOf(logits, exp.logits, TOL);
    report(describeWorst(`${family} interpreter logits`, w));
    expect(w.excess, describeWorst(`${family} interpreter logits`, w)).toBeLessThanOrEqual(1);
  });

  it('the written spec and checkpoint run on the GPU with PyTorch logits', async () => {
    const spec = join(tmp, `${family}-gpu.model`);
    const ckpt = join(tmp, `${family}-gpu.safetensors`);
    const res = run(join(HF, family), spec, ckpt);
    expect(res.code, res.err).toBe(0);
    expect(res.out).toContain(
      `${exp.params.toLocaleString('en-US')} parameters (mspec info) = ${exp.params.toLocaleString('en-US')} in the checkpoint`,
    );
    // The checkpoint carries the spec as mspec train writes it (what mspec sample reads).
    const meta = readSafetensors(ckpt);
    const carried = checkpointSpec(ckpt, meta.metadata);
    expect(carried.sources.files[carried.sources.entry]).toBe(readFileSync(spec, 'utf8'));
    // Only the gpt2 fixture has a tokenizer.json.
    expect(carried.tokenizer?.kind ?? null).toBe(family === 'gpt2' ? 'hf' : null);
    const c = compileGpu(spec, { tuning: 'cpu', subgroupMinSize: gpu.subgroupMinSize });
    expect(c.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
    const rt = await ModelRuntime.create(c.models[0]!.data, { gpu });
    try {
      rt.setWeights(meta, family);
      const V = exp.vocab;
      for (let b = 0; b < exp.B; b++) {
        // BERT runs bidirectionally over its segments; the decoders' prefill gives every position's logits.
        const got = exp.segments ? (await rt.encoderForward(exp.tokens[b]!, exp.segments[b]!)).logits! : await rt.logits(exp.tokens[b]!);
        const w = worstOf(got, exp.logits.slice(b * exp.T * V, (b + 1) * exp.T * V), TOL);
        report(describeWorst(`${family} GPU logits b=${b}`, w));
        expect(w.excess, describeWorst(`${family} GPU logits b=${b}`, w)).toBeLessThanOrEqual(1);
      }
    } finally {
      rt.release();
    }
  }, 300_000);
});

it('GPT-2 saved by GPT2LMHeadModel (transformer. prefix, a stored tied head) imports the same', () => {
  const dir = join(tmp, 'gpt2-prefixed');
  cpSync(join(HF, 'gpt2'), dir, { recursive: true });
  const st = readSafetensors(join(dir, 'model.safetensors'));
  const tensors = new Map([...st.tensors].map(([n, t]) => [`transformer.${n}`, t]));
  tensors.set('lm_head.weight', st.tensors.get('wte.weight')!);
  writeSafetensors(join(dir, 'model.safetensors'), { tensors, metadata: st.metadata });
  const plain = importHf(join(HF, 'gpt2'), join(tmp, 'a.model'));
  const prefixed = importHf(dir, join(tmp, 'a.model'));
  expect(prefixed.checkpointParams).toBe(expected('gpt2').params);
  expect([...prefixed.tensors!.keys()]).toEqual([...plain.tensors!.keys()]);
  for (const [n, t] of plain.tensors!) expect(prefixed.tensors!.get(n)!.data).toEqual(t.data);
});

it('the model is named after the output file, made an identifier that is not a keyword', () => {
  expect(importHf(join(HF, 'llama'), join(tmp, 'model.model')).name).toBe('model_model');
  expect(importHf(join(HF, 'llama'), join(tmp, '7b-chat.v2.model')).name).toBe('m_7b_chat_v2');
});

describe('bad input: a clear error, exit code 2, nothing written', () => {
  /** A writable copy of a fixture folder. */
  const copy = (family: string, name: string) => {
    const dir = join(tmp, name);
    cpSync(join(HF, family), dir, { recursive: true });
    return dir;
  };
  const expectFailure = (dir: string, message: RegExp) => {
    const out = join(tmp, `${dir.split('/').pop()}-out.model`);
    const ckpt = out.replace(/\.model$/, '.safetensors');
    const r = run(dir, out, ckpt);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
    expect(existsSync(ckpt)).toBe(false);
  };

  it('a folder without config.json', () => {
    const dir = copy('gpt2', 'no-config');
    rmSync(join(dir, 'config.json'));
    expectFailure(dir, /'.*no-config' has no config\.json/);
  });

  it('an unknown model_type', () => {
    const dir = copy('gpt2', 'unknown-type');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'rwkv' }));
    expectFailure(dir, /config\.json': model_type "rwkv" is not one mspec imports \(gpt2, llama/);
  });

  it('a shape that contradicts the config names the file and tensor', () => {
    const dir = copy('gpt2', 'bad-shape');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_inner: 64 }));
    expectFailure(dir, /model\.safetensors': tensor 'h\.0\.mlp\.c_fc\.weight' has shape \[32,128\] but the config implies \[32,64\]/);
  });

  it('a truncated safetensors file', () => {
    const dir = copy('llama', 'truncated');
    truncateSync(join(dir, 'model.safetensors'), 20_000);
    expectFailure(dir, /model\.safetensors': tensor '.*' has data offsets .* the file may be truncated/);
  });

  it('a sharded index naming a missing shard', () => {
    const dir = copy('mixtral', 'missing-shard');
    rmSync(join(dir, 'model-00002-of-00002.safetensors'));
    expectFailure(
      dir,
      /model\.safetensors\.index\.json' names shard 'model-00002-of-00002\.safetensors' \(for tensor '.*'\) but .* does not exist/,
    );
  });

  it('a feature mspec cannot express names the field', () => {
    const dir = copy('llama', 'rope-scaling');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, rope_scaling: { type: 'linear', factor: 2 } }));
    expectFailure(dir, /rope_scaling = \{"type":"linear","factor":2\} cannot be expressed in mspec/);
  });

  it('weights of another family name the tensor the config needs', () => {
    const dir = copy('phi', 'other-weights');
    copyFileSync(join(HF, 'gpt2', 'model.safetensors'), join(dir, 'model.safetensors'));
    expectFailure(dir, /the checkpoint has no tensor 'model\.embed_tokens\.weight', which the config implies/);
  });

  it('a tensor the config does not explain', () => {
    const dir = copy('phi', 'extra-tensor');
    const st = readSafetensors(join(dir, 'model.safetensors'));
    st.tensors.set('model.layers.0.self_attn.q_layernorm.weight', f32Tensor([8], new Float32Array(8)));
    writeSafetensors(join(dir, 'model.safetensors'), st);
    expectFailure(dir, /tensor 'model\.layers\.0\.self_attn\.q_layernorm\.weight' \(.*model\.safetensors\) is not part of a phi model/);
  });

  it('a tokenizer with ids past the model vocabulary', () => {
    const dir = copy('gpt2', 'big-tokenizer');
    const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number }[] };
    tok.added_tokens[0]!.id = 70;
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok));
    expectFailure(dir, /tokenizer\.json' has ids up to 70, past the model's vocabulary of 61/);
  });

  it("BERT's next-sentence head is left out with a warning, not silently", () => {
    const dir = copy('bert', 'bert-nsp');
    const st = readSafetensors(join(dir, 'model.safetensors'));
    st.tensors.set('cls.seq_relationship.weight', f32Tensor([2, 32], new Float32Array(64)));
    st.tensors.set('cls.seq_relationship.bias', f32Tensor([2], new Float32Array(2)));
    writeSafetensors(join(dir, 'model.safetensors'), st);
    const r = run(dir, join(tmp, 'bert-nsp.model'));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning: .*tensor 'cls\.seq_relationship\.weight' \(.*\) is not imported: the next-sentence-prediction head/);
    expect(r.out).toContain(`${expected('bert').params.toLocaleString('en-US')} in the checkpoint`);
  });

  it('a config field mspec does not model is a warning, not silence', () => {
    const dir = copy('gpt2', 'extra-field');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, fancy_new_knob: 3 }));
    const r = run(dir, join(tmp, 'extra-field.model'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning: .*config\.json': field 'fancy_new_knob' \(3\) is not modelled by mspec's gpt2 import; ignored/);
  });
});
