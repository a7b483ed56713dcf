/**
 * `Model.generate` of the exported model.py (KV cache; ./../../compiler/cli/export/torch-generate.ts):
 * its greedy output equals mspec's greedy generation on the GPU (what `mspec sample
 * --temperature 0` prints) for decoders with learned positions, GQA + RoPE, a window, ALiBi,
 * partial rotary and MoE, and for the T5 encoder–decoder (relative buckets, cross-attention
 * over the encoded source), on the PyTorch reference fixtures' weights (std 0.25, so the logits
 * are far apart). Both sides decode one token a step over their caches; model.py also checks
 * its cached decoding against recomputing the whole sequence each step. Sampling (temperature,
 * top-k, top-p) keeps to the ids the rule allows. Needs Debian's PyTorch at /usr/bin/python3.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { TORCH_FIXTURE_DIR } from '../fixtures/torch/load.js';
import { exportTorch, gpuRuntimeWith } from './export-harness.js';

const PYTHON = '/usr/bin/python3';
const TIMEOUT = 300_000;
const DECODERS = ['torch_gpt', 'torch_llama', 'torch_mistral', 'torch_bloom', 'torch_neox', 'torch_moe'] as const;
const NEW_TOKENS = 10;

/**
 * For each request: greedy generate() (with the KV cache), the same by recomputing every prefix,
 * and a sampled run whose ids must lie in the top-k of their step.
 */
const RUNNER = `
import importlib.util, json, sys, torch
out = []
for r in json.load(open(sys.argv[1])):
    spec = importlib.util.spec_from_file_location("model_" + r["name"], r["pkg"] + "/model.py")
    M = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(M)
    m = M.Model().eval()
    M.load_weights(m, r["weights"])
    V = M.CONFIG["vocab_raw"]
    with torch.no_grad():
        if r["kind"] == "decoder":
            cached = list(m.generate(r["prompt"], r["max"], temperature=0))
            seq, full = list(r["prompt"]), []
            for _ in range(r["max"]):
                full.append(int(m(torch.tensor([seq]))["logits"][0, -1, :V].argmax()))
                seq.append(full[-1])
            sampled = list(m.generate(r["prompt"], r["max"], temperature=0.9, top_k=3, seed=5))
            seq, in_top = list(r["prompt"]), True
            for t in sampled:
                top = m(torch.tensor([seq]))["logits"][0, -1, :V].topk(3).indices.tolist()
                in_top &= t in top
                seq.append(t)
        else:
            S, start, eos = M.CONFIG["context"], r["start"], r["eos"]
            cached = list(m.generate(r["src"], start, eos, max_tokens=r["max"], temperature=0))
            src = torch.tensor([r["src"] + [start] * (S - len(r["src"]))])
            seq, full = [start], []
            for _ in range(r["max"]):
                t = int(m(src, torch.tensor([seq]))["logits"][0, -1, :V].argmax())
                if t == eos:
                    break
                full.append(t)
                seq.append(t)
            in_top = True
    out.append({"cached": cached, "full": full, "sampled_in_top_k": in_top})
json.dump(out, open(sys.argv[2], "w"))
`;

let gpu: GpuContext;
let tmp: string;
beforeAll(async () => {
  gpu = await acquireDevice();
  tmp = mkdtempSync(join(tmpdir(), 'mspec-export-generate-'));
});
afterAll(() => {
  gpu?.release();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const exported = (name: string, spec: string) => exportTorch(tmp, name, spec);
const gpuRuntime = (spec: string, weights: string) => gpuRuntimeWith(gpu, spec, weights);

const fixture = (name: string) => ({
  spec: join(TORCH_FIXTURE_DIR, `${name}.model`),
  weights: join(TORCH_FIXTURE_DIR, `${name}.safetensors`),
  inputs: JSON.parse(readFileSync(join(TORCH_FIXTURE_DIR, `${name}.expected.json`), 'utf8')) as Record<string, number[][]>,
});

async function collect(ids: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const id of ids) out.push(id);
  return out;
}

describe('exported model.py generate() vs mspec', () => {
  it(
    'greedy decoding over the KV cache gives mspec’s ids (decoders and T5)',
    async () => {
      const requests: Record<string, unknown>[] = [];
      const want: number[][] = [];
      for (const name of DECODERS) {
        const f = fixture(name);
        const prompt = f.inputs.tokens![0]!.slice(0, 4);
        const rt = await gpuRuntime(f.spec, f.weights);
        try {
          want.push(await collect(rt.generate(prompt, { maxTokens: NEW_TOKENS, temperature: 0 })));
        } finally {
          rt.release();
        }
        requests.push({ name, pkg: await exported(name, f.spec), weights: f.weights, kind: 'decoder', prompt, max: NEW_TOKENS });
      }
      const t5 = fixture('torch_t5');
      const rt = await gpuRuntime(t5.spec, t5.weights);
      try {
        const src = t5.inputs.src_tokens![0]!;
        const { start, eos } = rt.seq2seqIds;
        want.push(await collect(rt.generateFrom(src, { maxTokens: rt.data.context, temperature: 0 })));
        const pkg = await exported('torch_t5', t5.spec);
        requests.push({ name: 'torch_t5', pkg, weights: t5.weights, kind: 'seq2seq', src, start, eos, max: rt.data.context });
      } finally {
        rt.release();
      }
      writeFileSync(join(tmp, 'in.json'), JSON.stringify(requests));
      writeFileSync(join(tmp, 'run.py'), RUNNER);
      execFileSync(PYTHON, [join(tmp, 'run.py'), join(tmp, 'in.json'), join(tmp, 'out.json')], {
        env: { ...process.env, OMP_NUM_THREADS: '1' },
      });
      const got = JSON.parse(readFileSync(join(tmp, 'out.json'), 'utf8')) as {
        cached: number[];
        full: number[];
        sampled_in_top_k: boolean;
      }[];
      got.forEach((g, i) => {
        const name = requests[i]!.name as string;
        expect(g.cached, `${name}: cached vs recomputed`).toEqual(g.full);
        expect(g.cached, `${name}: model.py vs mspec`).toEqual(want[i]);
        expect(g.sampled_in_top_k, `${name}: top-k`).toBe(true);
      });
      // A decoder produced all the tokens asked for; T5 at least one before [EOS] or the limit.
      for (const w of want.slice(0, DECODERS.length)) expect(w).toHaveLength(NEW_TOKENS);
      expect(want[DECODERS.length]!.length).toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});
