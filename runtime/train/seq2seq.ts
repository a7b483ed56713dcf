/**
 * What a `seq2seq` run adds to the training loop (./run.ts): batches of (source, target)
 * pairs drawn as a pure function of (seed, micro-batch counter) (../data/pairs.ts), fixed
 * held-out batches for the validation loss, and exact-match accuracy: a few held-out sources
 * decoded greedily by the model as `mspec sample --input` runs it (encode once, then the
 * decoder's KV cache over the kept cross-attention K/V), counted right only when the output is
 * the target exactly, ended by the end-of-sequence token.
 */
import { PairSampler, pairEvalBatches, type PairBatch, type PairSamplerState, type TokenPair } from '../data/pairs.js';
import type { PairsDataset } from '../data/pairs-dataset.js';
import type { GpuContext } from '../device.js';
import { ModelRuntime, type CompiledModelData } from '../model-runtime.js';
import type { Trainer } from './trainer.js';

/** How many held-out pairs the exact-match accuracy decodes at each evaluation. */
export const EXACT_MATCH_PAIRS = 64;

export interface ExactMatch {
  /** The fraction of the decoded pairs whose output is exactly the target. */
  readonly accuracy: number;
  readonly pairs: number;
  /** The first decoded pair, as text, to show. */
  readonly example: { readonly source: string; readonly target: string; readonly output: string };
}

export class Seq2SeqFeed {
  readonly sampler: PairSampler;
  readonly valBatches: readonly PairBatch[];
  private runtime: ModelRuntime | null = null;

  constructor(
    readonly data: PairsDataset,
    o: { batch: number; S: number; T: number; seed: number; evalBatches: number },
    resume?: PairSamplerState,
  ) {
    const limits = { S: o.S, T: o.T };
    this.sampler = new PairSampler(data.train, data.ids, { ...limits, batch: o.batch, seed: resume?.seed ?? o.seed }, resume?.step ?? 0);
    this.valBatches = pairEvalBatches(data.val, data.ids, { ...limits, batch: o.batch, count: o.evalBatches });
  }

  /** Greedy exact-match accuracy of the trainer's current weights on the first held-out pairs. */
  async exactMatch(trainer: Trainer, model: CompiledModelData, gpu: GpuContext, count = EXACT_MATCH_PAIRS): Promise<ExactMatch> {
    this.runtime ??= await ModelRuntime.create(model, { gpu });
    this.runtime.writeWeights(await trainer.state(false));
    return exactMatch(this.runtime, this.data.val.slice(0, count));
  }

  release(): void {
    this.runtime?.release();
    this.runtime = null;
  }
}

/** Decodes each pair's source greedily (temperature 0) and compares with its target. */
export async function exactMatch(rt: ModelRuntime, pairs: readonly TokenPair[]): Promise<ExactMatch> {
  let right = 0;
  let example: ExactMatch['example'] | null = null;
  for (const p of pairs) {
    const out: number[] = [];
    // One token past the target: a model that does not stop there is wrong, and no longer.
    for await (const id of rt.generateFrom(p.source, { maxTokens: p.target.length + 1, temperature: 0 })) out.push(id);
    if (out.length === p.target.length && out.every((id, i) => id === p.target[i])) right++;
    example ??= { source: rt.decode([...p.source]), target: rt.decode([...p.target]), output: rt.decode(out) };
  }
  return { accuracy: right / Math.max(1, pairs.length), pairs: pairs.length, example: example ?? { source: '', target: '', output: '' } };
}
