/**
 * Generation with device-side sampling and speculative decoding (issue 13), on tiny models:
 * the same seed gives the same text on the device path (chunked or one step per submission)
 * and on the CPU reference path; greedy speculative decoding is the target's greedy output;
 * with sampling, the speculative output's distribution is the target's (chi-square over the
 * joint of two tokens, fixed seeds) and not the draft's; bad options and mismatched drafts are
 * one-line errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { ModelError, ModelRuntime, type GenerateOptions } from '../../runtime/model-runtime.js';
import { sampleDistribution } from '../../runtime/sample.js';

const dir = mkdtempSync(join(tmpdir(), 'mspec-sampling-'));
// A 5-id vocabulary padded to 8 (the padding is never drawn); the draft is smaller; `wide` has another vocabulary, `long` a larger context.
const SPEC = `import "${join(process.cwd(), 'specs/gpt2-small.model')}"
model target extends gpt2_small {
  vocab = 5
  vocab_multiple = 8
  context = 32
  d_model = 16
  layers = 2
  block { attention { heads: 2 } }
}
model draft extends target { d_model = 8, layers = 1, block { attention { heads: 1 } } }
model wide extends draft { vocab = 6 }
model long extends draft { context = 48 }
`;
const file = join(dir, 'tiny.model');
writeFileSync(file, SPEC);

let gpu: GpuContext;
const models: Record<string, ModelRuntime> = {};
beforeAll(async () => {
  gpu = await acquireDevice();
  const r = compileGpu(file, { tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize, lookahead: 4 });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  for (const m of r.models) {
    const rt = await ModelRuntime.create(m.data, { gpu });
    rt.init(m.data.name === 'target' ? 7 : 11);
    // Sharpen the untrained logits (×8 on every weight) so target and draft disagree measurably.
    const w = await rt.getWeights();
    for (const v of w.values()) for (let i = 0; i < v.length; i++) v[i]! *= 8;
    rt.writeWeights(w);
    models[m.data.name] = rt;
  }
}, 240_000);
afterAll(() => {
  for (const rt of Object.values(models)) rt.release();
  gpu?.release();
  rmSync(dir, { recursive: true, force: true });
});

const PROMPT = [1, 3, 2];
async function run(rt: ModelRuntime, opts: Partial<GenerateOptions>, prompt = PROMPT): Promise<number[]> {
  const out: number[] = [];
  for await (const id of rt.generate(prompt, { maxTokens: 20, ...opts })) out.push(id);
  return out;
}

describe('the same seed gives the same text', () => {
  const CASES: Partial<GenerateOptions>[] = [
    { temperature: 0 },
    { temperature: 1, seed: 3 },
    { temperature: 0.7, topK: 3, seed: 4 },
    { temperature: 1.3, topP: 0.8, seed: 5 },
  ];
  it.each(CASES)('device chunked, device one step per submission, host: %o', async (o) => {
    const t = models.target!;
    const host = await run(t, { ...o, sampleOn: 'host' });
    expect(host).toHaveLength(20);
    for (const id of host) expect(id).toBeLessThan(5);
    expect(await run(t, o)).toEqual(host);
    expect(await run(t, { ...o, chunk: 1 })).toEqual(host);
    expect(await run(t, { ...o, chunk: 7 })).toEqual(host);
  });
  it('another seed gives other text', async () => {
    expect(await run(models.target!, { seed: 1 })).not.toEqual(await run(models.target!, { seed: 2 }));
  });
  it('sliding at the context limit is the same on both paths', async () => {
    const o = { temperature: 1, seed: 9, maxTokens: 40, onContextFull: 'slide' as const };
    expect(await run(models.target!, o)).toEqual(await run(models.target!, { ...o, sampleOn: 'host' }));
  });
});

describe('speculative decoding', () => {
  it('greedy: exactly the target greedy output, for lookahead 1..4', async () => {
    const want = await run(models.target!, { temperature: 0, maxTokens: 24 });
    for (const lookahead of [1, 2, 4]) {
      let stats: { proposed: number; accepted: number; produced: number } | undefined;
      const got = await run(models.target!, {
        temperature: 0,
        maxTokens: 24,
        draft: models.draft!,
        lookahead,
        onStats: (s) => (stats = s),
      });
      expect(got).toEqual(want);
      expect(stats!.produced).toBe(24);
      expect(stats!.proposed).toBeGreaterThan(0);
    }
  });

  it('sampling: the joint distribution of two tokens is the target’s, not the draft’s (chi-square, fixed seeds)', async () => {
    const t = models.target!;
    const d = models.draft!;
    const opts = { temperature: 1 };
    // Exact joint p(x1) p(x2 | x1) of each model after PROMPT.
    const joint = async (rt: ModelRuntime) => {
      const p1 = sampleDistribution(await rt.prefillPrompt(PROMPT), opts, 5);
      const out = new Float64Array(25);
      for (let a = 0; a < 5; a++) {
        const p2 = sampleDistribution(await rt.prefillPrompt([...PROMPT, a]), opts, 5);
        for (let b = 0; b < 5; b++) out[5 * a + b] = p1[a]! * p2[b]!;
      }
      return out;
    };
    const pt = await joint(t);
    const pd = await joint(d);
    const N = 1200;
    const seen = new Array<number>(25).fill(0);
    let proposed = 0;
    let accepted = 0;
    for (let seed = 0; seed < N; seed++) {
      // maxTokens 3: the first token is the target's own draw, the second comes out of one speculative round.
      const ids = await run(t, {
        ...opts,
        seed,
        maxTokens: 3,
        draft: d,
        lookahead: 2,
        onStats: (s) => ((proposed += s.proposed), (accepted += s.accepted)),
      });
      seen[5 * ids[0]! + ids[1]!]!++;
    }
    const chi = (p: Float64Array) => {
      // Cells with expected count < 5 pooled into one.
      let stat = 0;
      let df = -1;
      let poolO = 0;
      let poolE = 0;
      for (let i = 0; i < 25; i++) {
        const e = N * p[i]!;
        if (e < 5) {
          poolO += seen[i]!;
          poolE += e;
          continue;
        }
        stat += (seen[i]! - e) ** 2 / e;
        df++;
      }
      if (poolE > 0) {
        stat += (poolO - poolE) ** 2 / poolE;
        df++;
      }
      return { stat, df };
    };
    const vsTarget = chi(pt);
    const vsDraft = chi(pd);
    // Wilson–Hilferty upper 0.1% point of chi-square with df degrees of freedom.
    const crit = (df: number) => df * (1 - 2 / (9 * df) + 3.09 * Math.sqrt(2 / (9 * df))) ** 3;
    expect(vsTarget.stat, `target: ${JSON.stringify(vsTarget)}`).toBeLessThan(crit(vsTarget.df));
    expect(vsDraft.stat, `draft: ${JSON.stringify(vsDraft)}`).toBeGreaterThan(crit(vsDraft.df));
    // Some proposals are rejected (else the test would not exercise the residual draw).
    expect(accepted).toBeLessThan(proposed);
    expect(accepted).toBeGreaterThan(0);
  }, 600_000);

  it('refuses a draft with another vocabulary or a larger context, and a lookahead past the verify plan', async () => {
    const t = models.target!;
    await expect(run(t, { draft: models.wide! })).rejects.toThrow(/vocabulary of 6 .* but the target 'target' has 5/);
    await expect(run(t, { draft: models.long! })).rejects.toThrow(/context of 48 tokens, larger than the target 'target''s 32/);
    await expect(run(t, { draft: models.draft!, lookahead: 5 })).rejects.toThrow(/compiled for lookahead 4/);
    await expect(run(t, { draft: models.draft!, lookahead: 0 })).rejects.toThrow(ModelError);
  });
});

describe('bad options are one-line ModelErrors', () => {
  it.each([
    [{ temperature: -1 }, 'temperature must be a number >= 0, got -1'],
    [{ topP: 0 }, 'topP must be in (0, 1], got 0'],
    [{ topP: 1.5 }, 'topP must be in (0, 1], got 1.5'],
    [{ topK: -2 }, 'topK must be an integer >= 0, got -2'],
    [{ chunk: 0 }, 'chunk must be an integer >= 1, got 0'],
  ] as [Partial<GenerateOptions>, string][])('%o', async (o, message) => {
    await expect(run(models.target!, o)).rejects.toThrow(message);
    await expect(run(models.target!, o)).rejects.toBeInstanceOf(ModelError);
  });
});
