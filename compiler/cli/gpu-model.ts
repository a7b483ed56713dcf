/**
 * Shared by `build` and `sample`: compile a spec (from files, or from the sources a
 * checkpoint carries) for the GPU, with its tokenizer, reporting problems as diagnostics.
 */
import { dirname, join } from 'node:path';
import { compileForGpu, type SpecSources } from '../schedule/compile-model.js';
import type { KernelTuning } from '../codegen/wgsl/matmul.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { SourceFile } from '../diagnostics/span.js';
import { compileFile, type CompiledModel } from '../index.js';
import type { Host } from '../semantics/resolve.js';
import type { CompiledModelData } from '../../runtime/model-runtime.js';
import type { BindingLimits } from '../../runtime/gpu/limits.js';
import { isBuiltinCorpus } from '../../runtime/data/corpus.js';
import { readDataSource } from '../../runtime/data/source.js';
import { charsOf, MLM_SPECIALS, type TokenizerData } from '../../runtime/tokenizers/index.js';
import { SEQ2SEQ_SPECIALS } from '../../runtime/tokenizers/specials.js';
import { pairsText } from '../../runtime/data/pairs-dataset.js';

export interface GpuModel {
  readonly model: CompiledModel;
  readonly data: CompiledModelData;
}

export interface GpuCompile {
  readonly models: GpuModel[];
  readonly diagnostics: Diagnostic[];
  readonly sources: ReadonlyMap<string, SourceFile>;
}

/** Compiles every model of `file` (or just `model`) for the GPU. `host` defaults to the file system. */
export function compileGpu(
  file: string,
  opts: {
    model?: string | undefined;
    tuning: KernelTuning;
    subgroupMinSize?: number;
    adapter?: string;
    /** The device limits the plans are laid out within (default: the WebGPU defaults). */
    limits?: BindingLimits;
    host?: Host;
    tokenizer?: TokenizerData;
    /** The most draft tokens speculative decoding verifies per pass (default 8). */
    lookahead?: number;
  },
): GpuCompile {
  const r = compileFile(file, { model: opts.model, ...(opts.host ? { host: opts.host } : {}) });
  const diagnostics = [...r.diagnostics];
  const models: GpuModel[] = [];
  if (diagnostics.some((d) => d.severity === 'error')) return { models, diagnostics, sources: r.sources };
  const sources: SpecSources = { entry: file, files: Object.fromEntries([...r.sources].map(([k, v]) => [k, v.text])) };
  for (const m of r.models) {
    if (!m.ok || !m.graph) continue;
    let tokenizer: TokenizerData | null;
    try {
      tokenizer = opts.tokenizer ?? tokenizerFor(m, file, opts.host);
    } catch (e) {
      diagnostics.push({ code: 'MS5002', severity: 'error', message: (e as Error).message, span: m.spec.span });
      continue;
    }
    const c = compileForGpu(m.spec, m.graph, sources, {
      tuning: opts.tuning,
      subgroupMinSize: opts.subgroupMinSize ?? 0,
      ...(opts.adapter ? { adapter: opts.adapter } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.lookahead ? { lookahead: opts.lookahead } : {}),
      tokenizer,
    });
    diagnostics.push(...c.diagnostics);
    if (c.data) models.push({ model: m, data: c.data });
  }
  return { models, diagnostics, sources: r.sources };
}

function tokenizerFor(m: CompiledModel, file: string, host?: Host): TokenizerData | null {
  const t = m.spec.train;
  if (!t) return m.spec.vocab_raw >= 256 ? { kind: 'byte' } : null;
  // A masked LM's tokenizer carries [MASK] after the ordinary ids, a seq2seq one [PAD] and [EOS] (as mspec train builds them).
  const seq2seq = t.objective === 'seq2seq';
  const specials = t.objective === 'mlm' ? { specials: [...MLM_SPECIALS] } : seq2seq ? { specials: [...SEQ2SEQ_SPECIALS] } : {};
  if (t.tokenizer !== 'char') return { kind: t.tokenizer, ...specials };
  // seq2seq: the characters of its pairs (or of its built-in task), as runtime/data/pairs-dataset.ts reads them.
  if (seq2seq) return { kind: 'char', chars: charsOf(pairsText(t.data, dirname(file))), ...specials };
  // The same text the trainer reads (runtime/data/source.ts), so the vocabularies agree.
  let text: string;
  const specDir = dirname(file);
  if (host && !isBuiltinCorpus(t.data)) {
    const got = host.readFile(join(specDir, t.data));
    if (typeof got !== 'string')
      throw new Error(`cannot read the training data '${t.data}' to build the character vocabulary: ${got.error}`);
    text = got;
  } else {
    const src = readDataSource(t.data, { specDir });
    if (!('text' in src)) throw new Error(`'${t.data}' holds token ids, not text: a char tokenizer needs text`);
    text = src.text;
  }
  const chars = charsOf(text);
  if (chars.length > m.spec.vocab_raw)
    throw new Error(`the character vocabulary of '${t.data}' has ${chars.length} characters but the model's vocab is ${m.spec.vocab_raw}`);
  return { kind: 'char', chars, ...specials };
}
